/**
 * Schema migrations of a Durable Object's SQLite storage: a list of SQL
 * scripts, applied in order once each, the count kept in `schema_version`.
 * Add a migration by appending to the list; never edit a shipped one.
 */
export function runMigrations(sql: SqlStorage, migrations: readonly string[]): void {
  sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0];
  const current = row?.version ?? 0;
  for (let v = current; v < migrations.length; v++) sql.exec(migrations[v]!);
  if (current === 0) sql.exec("INSERT INTO schema_version (version) VALUES (?)", migrations.length);
  else if (current < migrations.length) sql.exec("UPDATE schema_version SET version = ?", migrations.length);
}
