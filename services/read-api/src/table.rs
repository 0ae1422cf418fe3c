//! List responses: JSON, or the same rows as CSV when the client asks
//! (`Accept: text/csv` or `?format=csv`), streamed row by row after a
//! header row.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::error::ReadApiError;
use crate::params::{self, Query};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// `?format=` wins; else `Accept` naming `text/csv` asks for CSV.
pub fn format(req: &HttpRequest, q: &Query) -> Result<Format, ReadApiError> {
    let accept_csv = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/csv"));
    let default = if accept_csv {
        Format::Csv
    } else {
        Format::Json
    };
    params::choice(
        q,
        "format",
        &[("json", Format::Json), ("csv", Format::Csv)],
        default,
    )
}

/// The objects of the array at `pointer`, as rows of `columns`.
pub fn rows_at(body: &Value, pointer: &str, columns: &[&str]) -> Vec<Vec<Value>> {
    body.pointer(pointer)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    columns
                        .iter()
                        .map(|c| item.get(*c).cloned().unwrap_or(Value::Null))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// One CSV cell: numbers as JSON writes them, null empty, text quoted when
/// it holds a separator, a quote or a line break. Text a spreadsheet would
/// run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with
/// `'`: query texts come from the public. The first character is checked
/// in its NFKC form: spreadsheets read a fullwidth `＝` or a small `﹢` as
/// the sign itself.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => return String::new(),
        Value::String(s) => {
            let first: String = s.chars().take(1).nfkc().collect();
            if first.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{s}")
            } else {
                s.clone()
            }
        }
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn line(cells: impl Iterator<Item = String>) -> Bytes {
    let mut line = cells.collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    Bytes::from(line)
}

/// The response in the asked format: `body` as JSON, or `rows` (of
/// `columns`) as a CSV attachment named `name.csv`.
pub fn respond(
    format: Format,
    body: Value,
    name: &str,
    columns: &[&str],
    rows: impl FnOnce(&Value) -> Vec<Vec<Value>>,
) -> HttpResponse {
    if format == Format::Json {
        return HttpResponse::Ok().json(body);
    }
    let header_row = line(columns.iter().map(|c| cell(&Value::from(*c))));
    let lines = rows(&body)
        .into_iter()
        .map(|row| line(row.iter().map(cell)));
    let stream = futures_util::stream::iter(
        std::iter::once(header_row)
            .chain(lines)
            .map(Ok::<_, std::convert::Infallible>),
    );
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .streaming(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell(&json!("plain")), "plain");
        assert_eq!(cell(&json!("a,b")), "\"a,b\"");
        assert_eq!(cell(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(cell(&json!("=1+1")), "'=1+1");
        assert_eq!(cell(&json!("＝1+5")), "'＝1+5");
        assert_eq!(cell(&json!("﹢cmd")), "'﹢cmd");
        assert_eq!(cell(&json!("＠SUM(A1)")), "'＠SUM(A1)");
        assert_eq!(cell(&json!("ｆｕｌｌ")), "ｆｕｌｌ");
        assert_eq!(cell(&json!(-3)), "-3");
        assert_eq!(cell(&json!(75.5)), "75.5");
        assert_eq!(cell(&Value::Null), "");
    }

    #[test]
    fn rows_follow_the_columns() {
        let body = json!({"items": [{"a": 1, "b": "x"}, {"b": "y"}]});
        assert_eq!(
            rows_at(&body, "/items", &["a", "b"]),
            vec![vec![json!(1), json!("x")], vec![Value::Null, json!("y")]]
        );
    }
}
