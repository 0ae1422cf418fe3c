//! The top entities of a range of days by one measure: the daily boards
//! bound every entity, only the candidates that can make the top are read
//! (see `analytics_domain::ranking`).

use analytics_domain::ranking::{Measure, RangeBounds, RangeTop};
use analytics_domain::{Domain, EntityType};
use analytics_store::rollups::Registers;

use crate::error::ReadApiError;
use crate::params::DayRange;
use crate::AppState;

/// `"exact"` when the threshold test proved the ranking, else
/// `"approximate"` (an entity off every day's board might belong in it).
pub fn ranking_word(exact: bool) -> &'static str {
    if exact {
        "exact"
    } else {
        "approximate"
    }
}

pub async fn range_top(
    state: &AppState,
    domain: &Domain,
    entity_type: EntityType,
    measure: Measure,
    range: DayRange,
    limit: usize,
) -> Result<RangeTop, ReadApiError> {
    let boards = state
        .rollups
        .leaderboards()
        .day_boards(domain, entity_type, measure, &range.labels())
        .await
        .map_err(|e| state.store_error(e))?;
    let bounds = RangeBounds::of(&boards);
    let candidates = bounds.to_resolve(limit);
    let read = state
        .range_figures(domain, entity_type, &candidates, range, Registers::Skip)
        .await?;
    let exact = candidates
        .iter()
        .map(|id| {
            let value = read.get(id).map_or(0, |f| measure.of(&f.counts));
            (id.clone(), value)
        })
        .collect();
    Ok(bounds.rank(&exact, limit))
}

/// Candidates for rankings no board keeps (unique viewers): the entities
/// that lead any day of the range by one of `measures`, best summed floors
/// first, at most `limit` of them.
pub async fn board_candidates(
    state: &AppState,
    domain: &Domain,
    entity_type: EntityType,
    measures: &[Measure],
    range: DayRange,
    limit: usize,
) -> Result<Vec<String>, ReadApiError> {
    let mut floors: std::collections::HashMap<String, i64> = Default::default();
    for measure in measures {
        let boards = state
            .rollups
            .leaderboards()
            .day_boards(domain, entity_type, *measure, &range.labels())
            .await
            .map_err(|e| state.store_error(e))?;
        for board in boards {
            for (id, v) in board.entries {
                *floors.entry(id).or_default() += v;
            }
        }
    }
    let mut ranked: Vec<(String, i64)> = floors.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.truncate(limit);
    Ok(ranked.into_iter().map(|(id, _)| id).collect())
}
