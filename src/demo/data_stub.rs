pub struct DemoDatabases { pub legacy: std::path::PathBuf, pub modern: std::path::PathBuf }
pub async fn create_databases(_dir: &std::path::Path) -> Result<DemoDatabases, sqlx::Error> { todo!() }
