//! Drops the Mongo databases, MySQL schemas and Redis keys earlier test runs
//! left (scripts/test.sh runs this first). Only for a machine where no tests
//! are running.

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let (databases, schemas, keys) = analytics_tests::drop_leftover_test_data().await?;
    println!("dropped {databases} test databases, {schemas} schemas, {keys} Redis keys");
    Ok(())
}
