//! The type zoo: the column types real legacy and modern schemas hold, compared with the
//! config a user writes first — one `hash_diff` per table, `key:` its primary key, and
//! nothing else: no `columns:`, no `type:`, no `key_types:`. How every column compares must
//! come from the two catalogs (information_schema, pg_catalog, SQLite's declared types).
//!
//! Each group of types is one wide table per side (one column per variant) holding a few rows
//! of equal edge values: one run must say `ok` with no differences. Then one value per row is
//! changed, in every column, in one step: one run must report exactly those rows, each
//! `changed` in exactly its column, and nothing else. The same body is stamped out for every
//! pairing that has the types (MariaDB legacy against PostgreSQL modern first, then MariaDB
//! against MariaDB, PostgreSQL against PostgreSQL, and SQLite, with the declared types its
//! users have, against each). Keys get their own tests, with enough rows for several segments
//! and differences near the segment edges.
//!
//! Where a comment says "seen:", that is what the servers on the development machine
//! (MariaDB 10.11, PostgreSQL 15 with a C.UTF-8 database, SQLite 3) answered by hand.

use std::collections::BTreeMap;

use driftwatch::check::{RunOptions, Status};
use sqlx::Connection;

use crate::common::{config_in, run_first_check, unique, Backend, Db, Seen};

use Role::{Legacy, Modern};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Legacy,
    Modern,
}

/// A column's type on each engine (`None`: the group has no such column there). Legacy and
/// modern each have their own, so a pairing of one engine with itself still compares the
/// types a migration between them would.
#[derive(Clone, Copy, Debug)]
struct Ty {
    my: Option<&'static str>,
    pg: Option<&'static str>,
    lite: Option<&'static str>,
}

/// `""` for an engine that has no such column.
fn ty(my: &'static str, pg: &'static str, lite: &'static str) -> Ty {
    let some = |s: &'static str| (!s.is_empty()).then_some(s);
    Ty {
        my: some(my),
        pg: some(pg),
        lite: some(lite),
    }
}

impl Ty {
    fn on(self, backend: Backend) -> Option<&'static str> {
        match backend {
            Backend::MySql => self.my,
            Backend::Postgres => self.pg,
            Backend::Sqlite => self.lite,
        }
    }
}

/// A value, as each engine (and side) writes it.
#[derive(Clone, Debug)]
enum L {
    Null,
    /// Verbatim on every engine (numbers).
    Raw(String),
    /// A string literal on every engine.
    Str(String),
    Bool(bool),
    Bytes(Vec<u8>),
    /// An instant given as its UTC wall time (the MariaDB session and the SQLite text are in
    /// UTC; PostgreSQL gets the offset).
    Instant(String),
    /// Verbatim, per engine: MariaDB, PostgreSQL, SQLite.
    Per([Option<String>; 3]),
    /// The legacy side's spelling, the modern side's.
    Sides(Box<L>, Box<L>),
}

fn n(x: &str) -> L {
    L::Raw(x.to_string())
}

fn s(x: &str) -> L {
    L::Str(x.to_string())
}

fn bytes(b: &[u8]) -> L {
    L::Bytes(b.to_vec())
}

fn inst(utc: &str) -> L {
    L::Instant(utc.to_string())
}

fn both(legacy: L, modern: L) -> L {
    L::Sides(Box::new(legacy), Box::new(modern))
}

/// Verbatim per engine; `""` where it is never written.
fn per(my: &str, pg: &str, lite: &str) -> L {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    L::Per([some(my), some(pg), some(lite)])
}

/// Numbers; `"NULL"` is NULL.
fn nums(values: &[&str]) -> Vec<L> {
    values
        .iter()
        .map(|v| if *v == "NULL" { L::Null } else { n(v) })
        .collect()
}

/// Strings; `None` is NULL.
fn strs(values: &[Option<&str>]) -> Vec<L> {
    values.iter().map(|v| v.map_or(L::Null, s)).collect()
}

fn quote(s: &str) -> String {
    assert!(
        !s.contains('\\'),
        "no backslashes: MariaDB would read them as escapes"
    );
    format!("'{}'", s.replace('\'', "''"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl L {
    fn render(&self, backend: Backend, role: Role) -> String {
        match self {
            L::Null => "NULL".into(),
            L::Raw(x) => x.clone(),
            L::Str(x) => quote(x),
            L::Bool(b) => match backend {
                Backend::Postgres => if *b { "TRUE" } else { "FALSE" }.into(),
                _ => i32::from(*b).to_string(),
            },
            L::Bytes(b) => match backend {
                Backend::Postgres => format!("'\\x{}'::bytea", hex(b)),
                _ => format!("X'{}'", hex(b)),
            },
            L::Instant(utc) => match backend {
                Backend::Postgres => quote(&format!("{utc}+00")),
                _ => quote(utc),
            },
            L::Per(v) => {
                let i = match backend {
                    Backend::MySql => 0,
                    Backend::Postgres => 1,
                    Backend::Sqlite => 2,
                };
                v[i].clone()
                    .unwrap_or_else(|| panic!("no {backend:?} literal in {self:?}"))
            }
            L::Sides(l, m) => match role {
                Legacy => l.render(backend, role),
                Modern => m.render(backend, role),
            },
        }
    }
}

/// On `on`'s side, the row holding `values[from]` gets `to`.
struct Change {
    from: usize,
    on: Role,
    to: L,
}

fn ch(from: usize, on: Role, to: L) -> Change {
    Change { from, on, to }
}

/// One column of a group: its types, the equal values its rows hold (row `r` holds
/// `values[r % len]`), and the changes that must each be found on their own row.
struct Column {
    name: &'static str,
    legacy: Ty,
    modern: Ty,
    values: Vec<L>,
    changes: Vec<Change>,
}

fn col(name: &'static str, legacy: Ty, modern: Ty, values: Vec<L>, changes: Vec<Change>) -> Column {
    Column {
        name,
        legacy,
        modern,
        values,
        changes,
    }
}

/// A group of types compared in one table per side.
#[derive(Default)]
struct Group {
    prefix: &'static str,
    columns: Vec<Column>,
    /// PostgreSQL extensions the types need.
    extensions: &'static [&'static str],
    /// Run on each side before its table is created, and after it is dropped; `{u}` is a
    /// name unique to the side (in DDL too).
    setup: Vec<(Backend, &'static str)>,
    teardown: Vec<(Backend, &'static str)>,
    /// Run first on the MariaDB connection that writes the rows (e.g. to allow zero dates).
    session: &'static [&'static str],
}

/// `CREATE EXTENSION IF NOT EXISTS` that survives a concurrent test (or test run) creating
/// the same extension: the loser's unique violation is fine once the extension is there.
async fn ensure_extension(db: &Db, ext: &str) {
    let mut c = sqlx::PgConnection::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("connect to create extension {ext}: {e}"));
    if let Err(e) = sqlx::query(&format!("CREATE EXTENSION IF NOT EXISTS {ext}"))
        .execute(&mut c)
        .await
    {
        let there: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_extension WHERE extname = $1")
            .bind(ext)
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(there, 1, "cannot create extension {ext}: {e}");
    }
    let _ = c.close().await;
}

/// Write with the admin connection; on MariaDB with `session` statements first, on one
/// connection of its own (a pool could run them on another).
async fn write(db: &Db, session: &[&str], sql: &str) {
    if db.backend != Backend::MySql || session.is_empty() {
        return db.exec(sql).await;
    }
    let mut c = sqlx::MySqlConnection::connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("connect to MariaDB: {e}"));
    for stmt in session.iter().copied().chain([sql]) {
        sqlx::query(stmt)
            .execute(&mut c)
            .await
            .unwrap_or_else(|e| panic!("setup statement failed: {stmt}: {e}"));
    }
    let _ = c.close().await;
}

/// One side of a comparison: a table on a database, in a role.
struct Side<'a> {
    db: &'a Db,
    role: Role,
    table: String,
    /// Replaces `{u}` in this side's DDL.
    u: String,
}

impl Side<'_> {
    fn name(&self) -> &'static str {
        match self.role {
            Legacy => "legacy",
            Modern => "modern",
        }
    }
}

fn int_type(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => "INT",
        _ => "INTEGER",
    }
}

fn table_suffix(backend: Backend) -> &'static str {
    match backend {
        Backend::MySql => " DEFAULT CHARSET=utf8mb4",
        _ => "",
    }
}

async fn prepare<'a>(
    db: &'a Db,
    role: Role,
    prefix: &str,
    extensions: &[&str],
    setup: &[(Backend, &str)],
) -> Side<'a> {
    let u = unique(prefix);
    if db.backend == Backend::Postgres {
        for ext in extensions {
            ensure_extension(db, ext).await;
        }
    }
    for (b, sql) in setup {
        if *b == db.backend {
            db.exec(&sql.replace("{u}", &u)).await;
        }
    }
    Side {
        db,
        role,
        table: format!("{u}_t"),
        u,
    }
}

async fn finish(side: &Side<'_>, teardown: &[(Backend, &str)]) {
    side.db.drop_table(&side.table).await;
    for (b, sql) in teardown {
        if *b == side.db.backend {
            side.db.exec(&sql.replace("{u}", &side.u)).await;
        }
    }
}

/// Runs a test's `checks`, then drops its tables (and the types made for them) whether or
/// not a check failed, so that a failing test leaves nothing behind; then fails as the check
/// did.
async fn checked(
    checks: impl std::future::Future<Output = ()>,
    sides: &[&Side<'_>],
    teardown: &[(Backend, &str)],
) {
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(checks)).await;
    for side in sides {
        finish(side, teardown).await;
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// One `hash_diff` over the two tables, keyed by `key`, with nothing else declared.
async fn diff(legacy: &Side<'_>, modern: &Side<'_>, key: &[&str]) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let key = key.join(", ");
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "systems:\n  legacy: {{url: \"{}\"}}\n  modern: {{url: \"{}\"}}\nchecks: [c.yaml]\n",
                    legacy.db.url, modern.db.url
                ),
            ),
            (
                "c.yaml",
                &format!(
                    "checks:\n  - name: zoo\n    kind: hash_diff\n    schedule: '@hourly'\n    \
                     legacy: {{table: {}, key: [{key}]}}\n    modern: {{table: {}, key: [{key}]}}\n",
                    legacy.table, modern.table
                ),
            ),
        ],
    );
    run_first_check(
        &config,
        &RunOptions {
            samples: None,
            ..Default::default()
        },
    )
    .await
}

fn samples_text(run: &Seen) -> String {
    serde_json::to_string_pretty(&run.samples).unwrap()
}

/// Equal data: no error, status ok, zero differences of any kind, `rows` rows on each side.
fn assert_equal(run: &Seen, rows: usize, what: &str) {
    assert_eq!(
        run.error, None,
        "{what}: equal data must compare, but the check failed"
    );
    let d = run
        .differences
        .as_ref()
        .expect("hash_diff reports differences");
    assert!(
        d.changed == 0 && d.missing.iter().all(|(_, n)| *n == 0),
        "{what}: equal data must compare equal, got {d:?}; samples (canonical values per side):\n{}",
        samples_text(run)
    );
    assert_eq!(run.status, Status::Ok, "{what}");
    let want: Vec<(String, i64)> = ["legacy", "modern"]
        .iter()
        .map(|s| (s.to_string(), rows as i64))
        .collect();
    assert_eq!(run.rows, want, "{what}: rows counted");
}

/// Where each change goes: the first row holding its `from` value that no other change
/// touches. Returns the number of rows and (row, column index, change).
fn plan<'a>(cols: &[&'a Column]) -> (usize, Vec<(usize, usize, &'a Change)>) {
    let mut used = std::collections::BTreeSet::new();
    let mut placed = Vec::new();
    for (c, column) in cols.iter().enumerate() {
        let len = column.values.len();
        for change in &column.changes {
            assert!(
                change.from < len,
                "{}: no value {}",
                column.name,
                change.from
            );
            let row = (0..)
                .map(|k| change.from + k * len)
                .find(|r| !used.contains(r))
                .unwrap();
            used.insert(row);
            placed.push((row, c, change));
        }
    }
    let widest = cols.iter().map(|c| c.values.len()).max().unwrap_or(0);
    let rows = widest.max(used.iter().max().map_or(0, |r| r + 1));
    (rows, placed)
}

/// The group's test: equal data compares equal, then every change is found on its own row
/// in exactly its column, and nothing else is reported.
async fn zoo(group: fn() -> Group, legacy: Backend, modern: Backend) {
    let (Some(l), Some(m)) = (Db::connect(legacy).await, Db::connect(modern).await) else {
        return;
    };
    let g = group();
    let what = format!("{}: {legacy:?} legacy vs {modern:?} modern", g.prefix);
    let cols: Vec<&Column> = g
        .columns
        .iter()
        .filter(|c| c.legacy.on(legacy).is_some() && c.modern.on(modern).is_some())
        .collect();
    assert!(!cols.is_empty(), "{what}: no column of the group applies");
    let (rows, changes) = plan(&cols);

    let mut sides = Vec::new();
    for (db, role) in [(&l, Legacy), (&m, Modern)] {
        let side = prepare(db, role, g.prefix, g.extensions, &g.setup).await;
        let b = db.backend;
        let ddl: Vec<String> = cols
            .iter()
            .map(|c| {
                let t = match role {
                    Legacy => c.legacy,
                    Modern => c.modern,
                };
                format!("{} {}", c.name, t.on(b).unwrap().replace("{u}", &side.u))
            })
            .collect();
        db.exec(&format!(
            "CREATE TABLE {} (id {} PRIMARY KEY, {}){}",
            side.table,
            int_type(b),
            ddl.join(", "),
            table_suffix(b)
        ))
        .await;
        let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
        let all: Vec<usize> = (0..rows).collect();
        for chunk in all.chunks(200) {
            let values: Vec<String> = chunk
                .iter()
                .map(|r| {
                    let v: Vec<String> = cols
                        .iter()
                        .map(|c| c.values[r % c.values.len()].render(b, role))
                        .collect();
                    format!("({r}, {})", v.join(", "))
                })
                .collect();
            write(
                db,
                g.session,
                &format!(
                    "INSERT INTO {} (id, {}) VALUES {}",
                    side.table,
                    names.join(", "),
                    values.join(", ")
                ),
            )
            .await;
        }
        sides.push(side);
    }
    let (sl, sm) = (&sides[0], &sides[1]);
    let checks = async {
        let run = diff(sl, sm, &["id"]).await;
        assert_equal(&run, rows, &what);

        for (row, c, change) in &changes {
            let side = if change.on == Legacy { sl } else { sm };
            write(
                side.db,
                g.session,
                &format!(
                    "UPDATE {} SET {} = {} WHERE id = {row}",
                    side.table,
                    cols[*c].name,
                    change.to.render(side.db.backend, side.role)
                ),
            )
            .await;
        }
        let run = diff(sl, sm, &["id"]).await;
        assert_eq!(
            run.error, None,
            "{what}: after the changes, the check failed"
        );
        let samples = run.samples.clone().unwrap_or_default();
        let by_row: BTreeMap<i64, _> = samples
            .iter()
            .map(|s| (s.key["id"].as_i64().unwrap_or(-1), s))
            .collect();
        let mut problems = Vec::new();
        for (row, c, change) in &changes {
            let column = cols[*c];
            let side = if change.on == Legacy { sl } else { sm };
            let desc = format!(
                "id {row}: {} {:?} -> {:?} on {}",
                column.name,
                column.values[change.from],
                change.to,
                side.name()
            );
            match by_row.get(&(*row as i64)) {
                None => problems.push(format!("{desc}: change NOT found")),
                Some(s) if s.kind != "changed" || s.columns != [column.name] => {
                    problems.push(format!(
                        "{desc}: expected changed [{}], got {} {:?} ({:?})",
                        column.name, s.kind, s.columns, s.values
                    ))
                }
                Some(_) => {}
            }
        }
        for (id, s) in &by_row {
            if !changes.iter().any(|(r, ..)| *r as i64 == *id) {
                problems.push(format!(
                    "id {id}: reported, but nothing changed there: {} {:?} {:?}",
                    s.kind, s.columns, s.values
                ));
            }
        }
        let d = run.differences.as_ref().unwrap();
        if d.changed != changes.len() as u64 || d.missing.iter().any(|(_, n)| *n != 0) {
            problems.push(format!(
                "differences {d:?}, expected {} changed",
                changes.len()
            ));
        }
        assert!(
            problems.is_empty(),
            "{what}: single-value changes:\n  {}",
            problems.join("\n  ")
        );
    };
    checked(checks, &[sl, sm], &g.teardown).await;
}

// ---------------------------------------------------------------------------------------
// 1. Integers of every width, signed and unsigned.

/// Rule: integers compare by value whatever their width or signedness on each side; the
/// PostgreSQL twin of an unsigned type is the next wider signed one (`INT UNSIGNED` ->
/// BIGINT). ZEROFILL is display only (seen: `CAST(z AS CHAR)` is '0000000042', `z + 0` 42).
fn integers() -> Group {
    Group {
        prefix: "zoo_int",
        columns: vec![
            col(
                "i_tinyint",
                ty("TINYINT", "SMALLINT", "TINYINT"),
                ty("TINYINT", "SMALLINT", ""),
                nums(&["0", "127", "-128", "NULL", "1", "-1"]),
                vec![ch(1, Modern, n("126"))],
            ),
            col(
                "i_tinyint_u",
                ty("TINYINT UNSIGNED", "SMALLINT", "TINYINT UNSIGNED"),
                ty("TINYINT UNSIGNED", "SMALLINT", ""),
                nums(&["0", "255", "128", "NULL"]),
                vec![ch(1, Legacy, n("254"))],
            ),
            col(
                "i_smallint",
                ty("SMALLINT", "SMALLINT", "SMALLINT"),
                ty("SMALLINT", "SMALLINT", ""),
                nums(&["-32768", "32767", "0", "NULL"]),
                vec![ch(0, Modern, n("-32767"))],
            ),
            col(
                "i_smallint_u",
                ty("SMALLINT UNSIGNED", "INTEGER", "SMALLINT UNSIGNED"),
                ty("SMALLINT UNSIGNED", "INTEGER", ""),
                nums(&["0", "65535", "32768", "NULL"]),
                vec![ch(1, Legacy, L::Null)],
            ),
            col(
                "i_mediumint",
                ty("MEDIUMINT", "INTEGER", "MEDIUMINT"),
                ty("MEDIUMINT", "INTEGER", ""),
                nums(&["-8388608", "8388607", "0", "NULL"]),
                vec![ch(1, Modern, n("8388606"))],
            ),
            col(
                "i_mediumint_u",
                ty("MEDIUMINT UNSIGNED", "INTEGER", "MEDIUMINT UNSIGNED"),
                ty("MEDIUMINT UNSIGNED", "INTEGER", ""),
                nums(&["0", "16777215", "NULL"]),
                vec![ch(0, Legacy, n("1"))],
            ),
            col(
                "i_int",
                ty("INT", "INTEGER", "INT"),
                ty("INT", "INTEGER", ""),
                nums(&["-2147483648", "2147483647", "0", "NULL", "-1"]),
                vec![ch(0, Modern, n("-2147483647"))],
            ),
            col(
                "i_int_u",
                ty("INT UNSIGNED", "BIGINT", "INT UNSIGNED"),
                ty("INT UNSIGNED", "BIGINT", ""),
                nums(&["0", "4294967295", "2147483648", "NULL"]),
                vec![
                    ch(1, Legacy, n("4294967294")),
                    ch(2, Modern, n("2147483647")),
                ],
            ),
            col(
                "i_zerofill",
                ty("INT(10) UNSIGNED ZEROFILL", "BIGINT", ""),
                ty("INT UNSIGNED", "BIGINT", ""),
                nums(&["42", "0", "4294967295", "NULL"]),
                vec![ch(0, Modern, n("43"))],
            ),
            col(
                "i_bigint",
                ty("BIGINT", "BIGINT", "BIGINT"),
                ty("BIGINT", "BIGINT", ""),
                nums(&[
                    "-9223372036854775808",
                    "9223372036854775807",
                    "0",
                    "NULL",
                    "9007199254740993",
                ]),
                vec![
                    ch(1, Modern, n("9223372036854775806")),
                    ch(4, Legacy, n("9007199254740992")),
                ],
            ),
            // A width that differs between the sides.
            col(
                "i_widen",
                ty("SMALLINT", "SMALLINT", "SMALLINT"),
                ty("BIGINT", "BIGINT", ""),
                nums(&["0", "-32768", "32767", "NULL"]),
                vec![ch(0, Modern, L::Null)],
            ),
        ],
        ..Group::default()
    }
}

/// Rule: `BIGINT UNSIGNED` compares by value up to 18446744073709551615 against its
/// PostgreSQL twin NUMERIC(20,0) (or an unconstrained NUMERIC, or DECIMAL(20,0)), across the
/// signed 64-bit boundary too. SQLite cannot hold these (seen: 18446744073709551615 in an
/// INTEGER-affinity column becomes the REAL 1.84467440737096e+19), so it has no pairing.
fn bigint_unsigned() -> Group {
    Group {
        prefix: "zoo_u64",
        columns: vec![
            col(
                "u_bigint",
                ty("BIGINT UNSIGNED", "NUMERIC(20,0)", ""),
                ty("BIGINT UNSIGNED", "NUMERIC(20,0)", ""),
                nums(&[
                    "0",
                    "1",
                    "9223372036854775807",
                    "9223372036854775808",
                    "18446744073709551614",
                    "18446744073709551615",
                    "NULL",
                ]),
                vec![
                    ch(5, Modern, n("18446744073709551614")),
                    ch(3, Legacy, n("9223372036854775807")),
                    ch(0, Modern, L::Null),
                ],
            ),
            col(
                "u_bigint_numeric",
                ty("BIGINT UNSIGNED", "NUMERIC(20,0)", ""),
                ty("DECIMAL(20,0)", "NUMERIC", ""),
                nums(&["18446744073709551615", "0", "NULL", "12345678901234567890"]),
                vec![ch(3, Legacy, n("12345678901234567891"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 2. Booleans.

/// Rule: TINYINT(1) (MariaDB's BOOLEAN) and BIT(1) are booleans against PostgreSQL's
/// boolean and against each other; SQLite's declared BOOLEAN holds 0 and 1.
fn booleans() -> Group {
    let tf = || vec![L::Bool(true), L::Bool(false), L::Null];
    Group {
        prefix: "zoo_bool",
        columns: vec![
            col(
                "b_tinyint1",
                ty("TINYINT(1)", "BOOLEAN", "BOOLEAN"),
                ty("TINYINT(1)", "BOOLEAN", ""),
                tf(),
                vec![ch(0, Modern, L::Bool(false))],
            ),
            col(
                "b_boolean",
                ty("BOOLEAN", "BOOLEAN", "BOOLEAN"),
                ty("BOOLEAN", "BOOLEAN", ""),
                tf(),
                vec![ch(2, Legacy, L::Bool(false))],
            ),
            col(
                "b_bit1",
                ty("BIT(1)", "BOOLEAN", ""),
                ty("TINYINT(1)", "BOOLEAN", ""),
                tf(),
                vec![ch(1, Legacy, L::Bool(true)), ch(2, Modern, L::Bool(true))],
            ),
            col(
                "b_flag",
                ty("TINYINT(1)", "BOOLEAN", ""),
                ty("BIT(1)", "BOOLEAN", ""),
                tf(),
                vec![ch(0, Legacy, L::Bool(false))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 3. Decimals.

const DEC_65_30_MAX: &str = "99999999999999999999999999999999999.999999999999999999999999999999";
const DEC_65_30_MAX_LESS: &str =
    "99999999999999999999999999999999999.999999999999999999999999999998";

/// Rule: decimals compare by exact value, whatever precision and scale each side declares:
/// trailing fractional zeros don't count (1.23 in DECIMAL(12,2) equals 1.2300 in
/// NUMERIC(14,4), and 1.50000 in an unconstrained NUMERIC equals 1.500000), any other digit
/// does (1.2300 -> 1.2301 against 1.23 is a difference). SQLite's NUMERIC(p,s) holds REALs
/// (seen: '1.23' is stored as the real 1.23, '0.00' as the integer 0), so its pairings keep
/// to 15 significant digits and have no DECIMAL(65,30).
fn decimals() -> Group {
    Group {
        prefix: "zoo_dec",
        columns: vec![
            col(
                "d_12_2",
                ty("DECIMAL(12,2)", "NUMERIC(12,2)", "NUMERIC(12,2)"),
                ty("DECIMAL(12,2)", "NUMERIC(12,2)", ""),
                nums(&[
                    "0.00",
                    "1.23",
                    "-1.23",
                    "9999999999.99",
                    "-9999999999.99",
                    "0.01",
                    "NULL",
                ]),
                vec![ch(1, Modern, n("1.24")), ch(0, Legacy, L::Null)],
            ),
            col(
                "d_widen",
                ty("DECIMAL(12,2)", "NUMERIC(12,2)", "DECIMAL(12,2)"),
                ty("DECIMAL(14,4)", "NUMERIC(14,4)", ""),
                vec![
                    both(n("1.23"), n("1.2300")),
                    both(n("-0.50"), n("-0.5")),
                    n("9999999999.99"),
                    n("0"),
                    L::Null,
                    both(n("0.10"), n("0.1000")),
                ],
                vec![ch(0, Modern, n("1.2301")), ch(1, Legacy, n("-0.51"))],
            ),
            col(
                "d_4_2",
                ty("DECIMAL(4,2)", "NUMERIC(4,2)", "DECIMAL(4,2)"),
                ty("DECIMAL(4,2)", "NUMERIC(4,2)", ""),
                nums(&["99.99", "-99.99", "0.00", "0.05", "NULL"]),
                vec![ch(0, Modern, n("-99.99")), ch(3, Legacy, n("0.50"))],
            ),
            col(
                "d_65_30",
                ty("DECIMAL(65,30)", "NUMERIC(65,30)", ""),
                ty("DECIMAL(65,30)", "NUMERIC(65,30)", ""),
                vec![
                    n(DEC_65_30_MAX),
                    n(&format!("-{DEC_65_30_MAX}")),
                    n("0.000000000000000000000000000001"),
                    n("12345678901234567890.123456789012345678901234567890"),
                    L::Null,
                ],
                vec![
                    ch(2, Legacy, n("0.000000000000000000000000000002")),
                    ch(0, Modern, n(DEC_65_30_MAX_LESS)),
                ],
            ),
            // PostgreSQL NUMERIC without precision or scale keeps the scale it was given
            // (seen: '1.50000' reads back as 1.50000).
            col(
                "d_unscaled",
                ty("DECIMAL(20,6)", "NUMERIC(20,6)", "NUMERIC(20,6)"),
                ty("DECIMAL(30,10)", "NUMERIC", ""),
                vec![
                    both(n("1.5"), n("1.50000")),
                    both(n("-42"), n("-42.0")),
                    both(n("0"), n("0.000000000")),
                    n("123456.123456"),
                    L::Null,
                    both(n("0.000001"), n("0.0000010")),
                ],
                vec![
                    ch(0, Modern, n("1.500001")),
                    ch(3, Legacy, n("123456.123455")),
                ],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 4. Floats.

/// Rule: single precision (MariaDB FLOAT, PostgreSQL real) compares at single precision's
/// digits, so a change in the 6th significant digit counts; double precision (DOUBLE, REAL,
/// double precision) at the default 15, so one in the 12th counts. Seen: MariaDB FLOAT and
/// PostgreSQL real store the same binary value for every literal here (123456.7 widens to
/// 123456.703125 on both; MariaDB *prints* a FLOAT with 6 digits, 123457). SQLite's FLOAT
/// is an 8-byte REAL; against a real it is compared at the real's precision.
fn floats() -> Group {
    Group {
        prefix: "zoo_float",
        columns: vec![
            col(
                "f_float",
                ty("FLOAT", "REAL", "FLOAT"),
                ty("FLOAT", "REAL", ""),
                nums(&[
                    "0", "1.5", "-3.25", "123456.7", "0.1", "3.4e38", "1e-30", "NULL",
                ]),
                vec![ch(3, Modern, n("123457.7")), ch(4, Legacy, n("0.2"))],
            ),
            col(
                "f_double",
                ty("DOUBLE", "DOUBLE PRECISION", "DOUBLE"),
                ty("DOUBLE", "DOUBLE PRECISION", ""),
                nums(&[
                    "0",
                    "0.1",
                    "-2.5",
                    "123456789012.345",
                    "1.7976931348623157e308",
                    "-2.2250738585072014e-308",
                    "NULL",
                ]),
                vec![ch(3, Modern, n("123456789013.345")), ch(1, Legacy, L::Null)],
            ),
            // MariaDB's REAL is a DOUBLE (without REAL_AS_FLOAT).
            col(
                "f_real",
                ty("REAL", "DOUBLE PRECISION", "REAL"),
                ty("REAL", "DOUBLE PRECISION", ""),
                nums(&["0.3", "1e100", "-1e-100", "NULL"]),
                vec![ch(1, Legacy, n("1.00000000001e100"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 5. CHAR(n) padding.

/// Rule: CHAR(n) values compare without their trailing pad spaces: the pad is storage, not
/// data. Seen: MariaDB strips it on read ('abc   ' into CHAR(10) reads back 'abc', LENGTH 3);
/// PostgreSQL keeps it in storage (OCTET_LENGTH 10) and drops it on a cast to text. A
/// trailing space in a VARCHAR is data, so 'abc ' there against a CHAR's 'abc' differs.
fn char_padding() -> Group {
    Group {
        prefix: "zoo_char",
        columns: vec![
            col(
                "c_char",
                ty("CHAR(10)", "CHAR(10)", "CHAR(10)"),
                ty("CHAR(10)", "CHAR(10)", ""),
                vec![
                    s("abc"),
                    s(""),
                    s("a b"),
                    s("Zoë"),
                    s("王芳"),
                    L::Null,
                    s(" lead"),
                    both(s("x"), s("x   ")),
                ],
                vec![
                    ch(0, Modern, s("abd")),
                    ch(1, Legacy, L::Null),
                    ch(3, Modern, s("ZOË")),
                ],
            ),
            col(
                "c_char_vs_varchar",
                ty("CHAR(10)", "CHAR(10)", "CHAR(10)"),
                ty("VARCHAR(10)", "VARCHAR(10)", ""),
                strs(&[Some("abc"), Some("Zoë"), Some(""), None]),
                vec![ch(0, Modern, s("abc "))],
            ),
            col(
                "c_varchar_vs_char",
                ty("VARCHAR(10)", "VARCHAR(10)", "VARCHAR(10)"),
                ty("CHAR(10)", "CHAR(10)", ""),
                strs(&[Some("abc"), Some("Łódź"), None, Some("")]),
                vec![ch(0, Legacy, s("abc "))],
            ),
            // MariaDB's NCHAR is CHAR in utf8mb3.
            col(
                "c_nchar",
                ty("NCHAR(10)", "CHAR(10)", "NCHAR(10)"),
                ty("NCHAR(10)", "CHAR(10)", ""),
                strs(&[Some("Łódź"), Some("abc"), None]),
                vec![ch(0, Legacy, s("Lodz"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 6. Text under every charset and collation.

fn utf8mb4_texts() -> Vec<L> {
    strs(&[
        Some("abc"),
        Some("Zoë"),
        Some("Łódź"),
        Some("王芳"),
        Some(""),
        None,
        Some("😀 ok"),
        Some("trailing "),
        Some("Straße"),
    ])
}

/// utf8mb3 holds no characters beyond the BMP.
fn utf8mb3_texts() -> Vec<L> {
    strs(&[
        Some("abc"),
        Some("Zoë"),
        Some("Łódź"),
        Some("王芳"),
        Some(""),
        None,
        Some("trailing "),
        Some("Straße"),
    ])
}

/// latin1 holds Latin-1 only.
fn latin1_texts() -> Vec<L> {
    strs(&[
        Some("abc"),
        Some("Zoë"),
        Some("façade"),
        Some("Straße"),
        Some(""),
        None,
        Some("trailing "),
        Some("Ærø"),
    ])
}

/// A case-only, an accent-only and a trailing-space change (values 0, 1, 2 and 6 or 7 of the
/// lists above): each is a difference, whatever the collation calls equal.
fn text_changes(trailing: usize) -> Vec<Change> {
    vec![
        ch(0, Modern, s("ABC")),
        ch(1, Legacy, s("Zoe")),
        ch(trailing, Modern, s("trailing")),
    ]
}

fn latin1_changes() -> Vec<Change> {
    vec![
        ch(0, Legacy, s("ABC")),
        ch(1, Modern, s("Zoe")),
        ch(2, Legacy, s("façade ")),
    ]
}

/// A nondeterministic ICU collation that ignores case and accents (seen: 'abc' = 'ABC'
/// under it, and a primary key under it refuses 'ABC' beside 'abc').
const PG_CI_COLLATION: (Backend, &str) = (
    Backend::Postgres,
    "CREATE COLLATION dw_ci_{u} (provider = icu, locale = 'und-u-ks-level1', deterministic = false)",
);
const PG_CI_COLLATION_DROP: (Backend, &str) = (Backend::Postgres, "DROP COLLATION dw_ci_{u}");

/// Rule: text is compared exactly as its characters, whatever the collation calls equal: a
/// case-only, an accent-only or a trailing-space change is a difference under MariaDB's
/// `_ci` collations (which are PAD SPACE; seen: VARCHAR keeps 'abc ' as stored), citext,
/// PostgreSQL's default (C.UTF-8 here), "C", ICU and a nondeterministic ICU collation, and
/// SQLite's NOCASE; equal text in utf8mb4, utf8mb3 and latin1 (read as the characters it
/// holds, not its bytes) is equal.
fn text_ci() -> Group {
    Group {
        prefix: "zoo_text_ci",
        extensions: &["citext"],
        setup: vec![PG_CI_COLLATION],
        teardown: vec![PG_CI_COLLATION_DROP],
        columns: vec![
            col(
                "t_mb4_general_ci",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                    "TEXT",
                    "TEXT COLLATE NOCASE",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    "CITEXT",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
            col(
                "t_mb4_unicode_ci",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    "CITEXT",
                    "NVARCHAR(40)",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                    "TEXT COLLATE \"en-x-icu\"",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
            col(
                "t_mb4_unicode_520_ci",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
                    "TEXT COLLATE \"C\"",
                    "VARCHAR(40)",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
                    "TEXT COLLATE dw_ci_{u}",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
            col(
                "t_mb3_general_ci",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb3",
                    "TEXT COLLATE dw_ci_{u}",
                    "TEXT",
                ),
                ty("VARCHAR(40) CHARACTER SET utf8mb4", "TEXT", ""),
                utf8mb3_texts(),
                text_changes(6),
            ),
            col(
                "t_latin1_ci",
                ty("VARCHAR(40) CHARACTER SET latin1", "VARCHAR(40)", "TEXT"),
                ty("VARCHAR(40) CHARACTER SET utf8mb4", "VARCHAR(40)", ""),
                latin1_texts(),
                latin1_changes(),
            ),
            col(
                "t_text_ci",
                ty(
                    "TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                    "TEXT COLLATE \"en-x-icu\"",
                    "CLOB",
                ),
                ty(
                    "MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                    "TEXT COLLATE \"C\"",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
        ],
        ..Group::default()
    }
}

/// Rule: the same under MariaDB's binary collations (`_bin`, the BINARY attribute): they
/// are text, compared as characters, not as bytes.
fn text_bin() -> Group {
    Group {
        prefix: "zoo_text_bin",
        extensions: &["citext"],
        columns: vec![
            col(
                "t_mb4_bin",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "TEXT COLLATE \"C\"",
                    "TEXT",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "TEXT COLLATE \"C\"",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
            col(
                "t_mb4_binary_attr",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 BINARY",
                    "TEXT",
                    "VARCHAR(40)",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                    "TEXT COLLATE \"en-x-icu\"",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
            col(
                "t_mb3_bin",
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb3 COLLATE utf8mb3_bin",
                    "TEXT COLLATE \"en-x-icu\"",
                    "TEXT",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "TEXT",
                    "",
                ),
                utf8mb3_texts(),
                text_changes(6),
            ),
            col(
                "t_latin1_bin",
                ty(
                    "VARCHAR(40) CHARACTER SET latin1 COLLATE latin1_bin",
                    "TEXT",
                    "TEXT",
                ),
                ty(
                    "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "VARCHAR(40)",
                    "",
                ),
                latin1_texts(),
                latin1_changes(),
            ),
            col(
                "t_longtext_bin",
                ty(
                    "LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "TEXT",
                    "TEXT",
                ),
                ty(
                    "TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "CITEXT",
                    "",
                ),
                utf8mb4_texts(),
                text_changes(7),
            ),
            col(
                "c_char_bin",
                ty(
                    "CHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "CHAR(10) COLLATE \"C\"",
                    "CHAR(10)",
                ),
                ty(
                    "CHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "CHAR(10) COLLATE \"C\"",
                    "",
                ),
                strs(&[Some("abc"), Some("Zoë"), Some("王芳"), None, Some("")]),
                vec![ch(0, Modern, s("ABC")), ch(1, Legacy, s("Zoe"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 7. ENUM.

/// Rule: an ENUM compares by its label, against a PostgreSQL enum type, text, or an ENUM
/// declaring the labels in another order (seen: `e + 0` is the label's position, which
/// must not be what is compared).
fn enums() -> Group {
    Group {
        prefix: "zoo_enum",
        setup: vec![(
            Backend::Postgres,
            "CREATE TYPE dw_status_{u} AS ENUM ('new', 'paid', 'void')",
        )],
        teardown: vec![(Backend::Postgres, "DROP TYPE dw_status_{u}")],
        columns: vec![
            col(
                "e_enum",
                ty("ENUM('new','paid','void')", "dw_status_{u}", "VARCHAR(8)"),
                ty("ENUM('void','paid','new')", "dw_status_{u}", ""),
                strs(&[Some("new"), Some("paid"), Some("void"), None]),
                vec![ch(0, Modern, s("paid")), ch(2, Legacy, L::Null)],
            ),
            col(
                "e_enum_text",
                ty("ENUM('new','paid','void')", "dw_status_{u}", "TEXT"),
                ty("VARCHAR(8)", "TEXT", ""),
                strs(&[Some("paid"), Some("void"), Some("new"), None]),
                vec![ch(0, Legacy, s("void")), ch(2, Modern, s("New"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 8. SET.

/// Rule: a SET compares as a set of labels, in any order: 'a,b' equals the text[] {b,a} and
/// a SET declaring its members in another order; a member added or removed, or the empty
/// set against NULL, is a difference. Seen: MariaDB reads a SET back in declaration order
/// (SET('a','b','c') given 'b,a' reads 'a,b'; SET('c','b','a') given 'a,b' reads 'b,a').
fn sets() -> Group {
    Group {
        prefix: "zoo_set",
        columns: vec![col(
            "s_set",
            ty("SET('a','b','c')", "", ""),
            ty("SET('c','b','a')", "TEXT[]", ""),
            vec![
                per("'b,a'", "'{b,a}'", ""),
                per("'a,b,c'", "'{c,a,b}'", ""),
                per("''", "'{}'", ""),
                L::Null,
                per("'c'", "'{c}'", ""),
                per("'a,c'", "'{a,c}'", ""),
            ],
            vec![
                // A member removed, one added, one removed on legacy, and empty vs NULL.
                ch(0, Modern, per("'a'", "'{a}'", "")),
                ch(4, Modern, per("'c,a'", "'{c,a}'", "")),
                ch(1, Legacy, per("'a,c'", "", "")),
                ch(2, Modern, L::Null),
            ],
        )],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 9. YEAR.

/// Rule: YEAR compares as the integer year against smallint or integer (seen: `y + 0` of
/// YEAR 2026 is 2026).
fn years() -> Group {
    Group {
        prefix: "zoo_year",
        columns: vec![
            col(
                "y_year",
                ty("YEAR", "SMALLINT", "YEAR"),
                ty("YEAR", "SMALLINT", ""),
                nums(&["1901", "2155", "2026", "1999", "NULL"]),
                vec![ch(2, Modern, n("2025")), ch(0, Legacy, L::Null)],
            ),
            col(
                "y_year_integer",
                ty("YEAR", "INTEGER", "INTEGER"),
                ty("SMALLINT", "INTEGER", ""),
                nums(&["2000", "1970", "NULL"]),
                vec![ch(0, Legacy, n("2001"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 10. Dates and times.

/// Rule: DATE, DATETIME(p) and TIMESTAMP(p) compare against date, timestamp(p) and
/// timestamptz of the same precision, to the last declared digit; zone-less values are read
/// in the system's zone (UTC here), so a DATETIME against a timestamptz compares instants.
fn dates_and_timestamps() -> Group {
    Group {
        prefix: "zoo_dt",
        columns: vec![
            col(
                "dt_date",
                ty("DATE", "DATE", "DATE"),
                ty("DATE", "DATE", ""),
                strs(&[
                    Some("1000-01-01"),
                    Some("9999-12-31"),
                    Some("2026-03-29"),
                    Some("1970-01-01"),
                    Some("2000-02-29"),
                    None,
                ]),
                vec![ch(1, Modern, s("9999-12-30"))],
            ),
            col(
                "dt_datetime0",
                ty("DATETIME", "TIMESTAMP(0)", "DATETIME"),
                ty("DATETIME", "TIMESTAMP(0)", ""),
                strs(&[
                    Some("1000-01-01 00:00:00"),
                    Some("9999-12-31 23:59:59"),
                    Some("2026-03-29 02:30:00"),
                    Some("1970-01-01 00:00:00"),
                    None,
                ]),
                vec![ch(2, Legacy, s("2026-03-29 02:30:01"))],
            ),
            col(
                "dt_datetime3",
                ty("DATETIME(3)", "TIMESTAMP(3)", "DATETIME"),
                ty("DATETIME(3)", "TIMESTAMP(3)", ""),
                strs(&[
                    Some("2026-01-01 12:00:00.123"),
                    Some("1969-12-31 23:59:59.999"),
                    Some("9999-12-31 23:59:59.999"),
                    None,
                ]),
                vec![ch(0, Modern, s("2026-01-01 12:00:00.124"))],
            ),
            col(
                "dt_datetime6",
                ty("DATETIME(6)", "TIMESTAMP(6)", "DATETIME"),
                ty("DATETIME(6)", "TIMESTAMP(6)", ""),
                strs(&[
                    Some("2026-01-01 12:00:00.123456"),
                    Some("1900-01-01 00:00:00.000001"),
                    Some("9999-12-31 23:59:59.999999"),
                    None,
                ]),
                vec![ch(0, Legacy, s("2026-01-01 12:00:00.123457"))],
            ),
            col(
                "dt_timestamp0",
                ty("TIMESTAMP NULL DEFAULT NULL", "TIMESTAMPTZ(0)", "TIMESTAMP"),
                ty("TIMESTAMP NULL DEFAULT NULL", "TIMESTAMPTZ(0)", ""),
                vec![
                    inst("1970-01-01 00:00:01"),
                    inst("2038-01-19 03:14:07"),
                    inst("2026-10-25 01:30:00"),
                    L::Null,
                ],
                vec![ch(1, Modern, inst("2038-01-19 03:14:06"))],
            ),
            col(
                "dt_timestamp6",
                ty(
                    "TIMESTAMP(6) NULL DEFAULT NULL",
                    "TIMESTAMPTZ(6)",
                    "DATETIME",
                ),
                ty("TIMESTAMP(6) NULL DEFAULT NULL", "TIMESTAMPTZ", ""),
                vec![
                    inst("2026-06-15 12:00:00.000001"),
                    inst("1970-01-01 00:00:01.5"),
                    inst("2038-01-19 03:14:07.999999"),
                    L::Null,
                ],
                vec![ch(0, Legacy, inst("2026-06-15 12:00:00.000002"))],
            ),
            col(
                "dt_wall_vs_instant",
                ty("DATETIME(6)", "TIMESTAMP(6)", "DATETIME"),
                ty("TIMESTAMP(6) NULL DEFAULT NULL", "TIMESTAMPTZ", ""),
                vec![
                    inst("2026-01-01 12:00:00.5"),
                    inst("2030-01-01 00:00:00"),
                    inst("1999-12-31 23:59:59.999999"),
                    L::Null,
                ],
                vec![ch(1, Modern, inst("2030-01-01 01:00:00"))],
            ),
        ],
        ..Group::default()
    }
}

/// Rule: TIME(p) compares against PostgreSQL's time(p), to the coarser of the two
/// precisions. The values avoid the digits where engines disagree on how to drop them
/// (seen: MariaDB truncates '12:00:00.1239' into TIME(3) to .123, PostgreSQL rounds it to
/// .124), so the rule holds whether the agent truncates or rounds.
fn times_of_day() -> Group {
    Group {
        prefix: "zoo_time",
        columns: vec![
            col(
                "tm_time",
                ty("TIME", "TIME", "TIME"),
                ty("TIME", "TIME", ""),
                strs(&[Some("00:00:00"), Some("23:59:59"), Some("12:34:56"), None]),
                vec![ch(1, Modern, s("23:59:58"))],
            ),
            col(
                "tm_time6",
                ty("TIME(6)", "TIME(6)", "TIME"),
                ty("TIME(6)", "TIME(6)", ""),
                strs(&[
                    Some("12:34:56.123456"),
                    Some("00:00:00.000001"),
                    Some("23:59:59.999999"),
                    None,
                ]),
                vec![ch(0, Legacy, s("12:34:56.123457"))],
            ),
            col(
                "tm_time3_vs_6",
                ty("TIME(3)", "TIME(3)", ""),
                ty("TIME(6)", "TIME(6)", ""),
                vec![
                    both(s("12:00:00.123"), s("12:00:00.1234")),
                    s("00:00:00"),
                    both(s("23:59:59.999"), s("23:59:59.9994")),
                    L::Null,
                ],
                vec![ch(0, Modern, s("12:00:00.1244"))],
            ),
        ],
        ..Group::default()
    }
}

/// Rule: a DATETIME/timestamp against one of another precision compares at the coarser of
/// the two (DATETIME against timestamp(6): to the second), and a DATE against a
/// DATETIME/timestamp compares the date with the timestamp's midnight. As for TIME, the
/// finer values are chosen so truncating and rounding agree (seen: MariaDB truncates
/// '12:00:00.654321' into DATETIME to 12:00:00, PostgreSQL rounds it into timestamp(0) to
/// 12:00:01). Not pinned here: a date against a timestamp that is not at midnight.
fn mixed_precisions() -> Group {
    Group {
        prefix: "zoo_mixed",
        columns: vec![
            col(
                "mx_dt0_vs_ts6",
                ty("DATETIME", "TIMESTAMP(0)", ""),
                ty("DATETIME(6)", "TIMESTAMP(6)", ""),
                vec![
                    both(s("2026-01-01 12:00:00"), s("2026-01-01 12:00:00.25")),
                    s("1999-12-31 23:59:59"),
                    L::Null,
                    both(s("2026-03-29 02:30:00"), s("2026-03-29 02:30:00.000000")),
                ],
                vec![ch(0, Modern, s("2026-01-01 12:00:01.25"))],
            ),
            col(
                "mx_dt3_vs_ts6",
                ty("DATETIME(3)", "TIMESTAMP(3)", ""),
                ty("DATETIME(6)", "TIMESTAMP(6)", ""),
                vec![
                    both(s("2026-01-01 12:00:00.123"), s("2026-01-01 12:00:00.1234")),
                    both(
                        s("1999-12-31 23:59:59.999"),
                        s("1999-12-31 23:59:59.999001"),
                    ),
                    L::Null,
                ],
                vec![ch(0, Modern, s("2026-01-01 12:00:00.1244"))],
            ),
            // The finer side is the legacy one; SQLite's DATETIME declares no precision, so
            // the other side's counts.
            col(
                "mx_ts6_vs_dt0",
                ty("DATETIME(6)", "TIMESTAMP(6)", "DATETIME"),
                ty("DATETIME", "TIMESTAMP(0)", ""),
                vec![
                    both(s("2026-05-01 08:00:00.000000"), s("2026-05-01 08:00:00")),
                    both(s("2026-05-01 08:00:00.2"), s("2026-05-01 08:00:00")),
                    L::Null,
                ],
                vec![ch(0, Legacy, s("2026-05-01 08:00:01"))],
            ),
            col(
                "mx_date_vs_ts",
                ty("DATE", "DATE", "DATE"),
                ty("DATETIME", "TIMESTAMP(0)", ""),
                vec![
                    both(s("2026-03-29"), s("2026-03-29 00:00:00")),
                    both(s("1970-01-01"), s("1970-01-01 00:00:00")),
                    L::Null,
                    both(s("9999-12-31"), s("9999-12-31 00:00:00")),
                ],
                vec![ch(0, Legacy, s("2026-03-30"))],
            ),
            col(
                "mx_ts_vs_date",
                ty("DATETIME", "TIMESTAMP(0)", "DATETIME"),
                ty("DATE", "DATE", ""),
                vec![
                    both(s("2026-03-29 00:00:00"), s("2026-03-29")),
                    both(s("2000-02-29 00:00:00"), s("2000-02-29")),
                    L::Null,
                ],
                vec![ch(0, Modern, s("2026-03-28"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 11. Zero dates.

/// Rule (pgloader's default): a MariaDB zero date or datetime compares as NULL, so legacy
/// '0000-00-00' equals modern NULL (and a zero date on both sides is equal), and against a
/// real date it is a difference: never a crash, never silently a real date. Seen (inserted
/// with `SET SESSION sql_mode=''`, read in the default strict mode): SELECT returns
/// '0000-00-00' and '0000-00-00 00:00:00', DATE_FORMAT gives the same, `d IS NULL` is 0,
/// no warning.
fn zero_dates() -> Group {
    Group {
        prefix: "zoo_zero",
        session: &["SET SESSION sql_mode=''"],
        columns: vec![
            col(
                "z_date",
                ty("DATE", "", ""),
                ty("DATE", "DATE", ""),
                vec![
                    both(s("0000-00-00"), per("'0000-00-00'", "NULL", "")),
                    s("2020-01-01"),
                    L::Null,
                    both(s("0000-00-00"), L::Null),
                ],
                vec![
                    ch(3, Modern, s("2020-01-01")),
                    ch(1, Legacy, s("0000-00-00")),
                ],
            ),
            col(
                "z_datetime",
                ty("DATETIME", "", ""),
                ty("DATETIME", "TIMESTAMP(0)", ""),
                vec![
                    both(s("0000-00-00 00:00:00"), L::Null),
                    s("2020-01-01 10:00:00"),
                    L::Null,
                ],
                vec![ch(0, Modern, s("2020-01-01 00:00:00"))],
            ),
            col(
                "z_datetime6",
                ty("DATETIME(6)", "", ""),
                ty("DATETIME(6)", "TIMESTAMP(6)", ""),
                vec![
                    both(s("0000-00-00 00:00:00.000000"), L::Null),
                    s("2020-01-01 10:00:00.5"),
                    L::Null,
                ],
                vec![ch(1, Legacy, s("0000-00-00 00:00:00"))],
            ),
            col(
                "z_timestamp",
                ty("TIMESTAMP NULL DEFAULT NULL", "", ""),
                ty("TIMESTAMP NULL DEFAULT NULL", "TIMESTAMPTZ", ""),
                vec![
                    both(s("0000-00-00 00:00:00"), L::Null),
                    inst("2020-01-01 10:00:00"),
                    L::Null,
                    both(
                        s("0000-00-00 00:00:00"),
                        per("'0000-00-00 00:00:00'", "NULL", ""),
                    ),
                ],
                vec![ch(0, Modern, inst("2020-01-01 00:00:00"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 12. JSON.

/// Rule: JSON compares as JSON: key order and whitespace don't count, array order, values
/// and JSON null against SQL NULL do. Seen: MariaDB's JSON is LONGTEXT utf8mb4_bin with a
/// `json_valid` CHECK and keeps the text as written; jsonb reorders keys; json keeps text.
fn json() -> Group {
    Group {
        prefix: "zoo_json",
        columns: vec![col(
            "j_json",
            ty("JSON", "JSON", "JSON"),
            ty("JSON", "JSONB", ""),
            vec![
                both(s(r#"{"b": 1, "a": [1, 2]}"#), s(r#"{"a":[1,2],"b":1}"#)),
                both(s("{}"), s("{ }")),
                both(s("[]"), s("[ ]")),
                s("null"),
                s(r#""Zoë""#),
                both(
                    s(r#"{"nested": {"z": true, "y": null}, "k": "v"}"#),
                    s(r#"{"k":"v","nested":{"y":null,"z":true}}"#),
                ),
                both(s(r#"[1, "two", 3]"#), s(r#"[1,"two",3]"#)),
                s("42"),
                L::Null,
            ],
            vec![
                ch(0, Modern, s(r#"{"a":[1,2],"b":2}"#)),
                ch(6, Legacy, s(r#"[3, "two", 1]"#)),
                ch(3, Modern, L::Null),
                ch(4, Legacy, s(r#""Zoe""#)),
            ],
        )],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 13. Bytes.

/// Rule: BLOB, VARBINARY and BINARY compare as bytes against bytea; empty is not NULL.
/// Seen: BINARY(4) pads with 0x00 on insert and keeps the pad on read (X'01' reads back as
/// 01000000), so the pad is data: the modern copy holds all four bytes.
fn bytes_group() -> Group {
    let blobs = || {
        vec![
            bytes(&[]),
            bytes(&[0]),
            bytes(&[0xff, 0]),
            bytes(b"abc"),
            bytes(&(0u8..16).collect::<Vec<_>>()),
            L::Null,
        ]
    };
    Group {
        prefix: "zoo_bytes",
        columns: vec![
            col(
                "by_blob",
                ty("BLOB", "BYTEA", "BLOB"),
                ty("LONGBLOB", "BYTEA", ""),
                blobs(),
                vec![
                    ch(0, Modern, L::Null),
                    ch(1, Legacy, bytes(&[1])),
                    ch(2, Modern, bytes(&[0xff])),
                ],
            ),
            col(
                "by_varbinary",
                ty("VARBINARY(16)", "BYTEA", "BLOB"),
                ty("VARBINARY(32)", "BYTEA", ""),
                blobs(),
                vec![ch(5, Legacy, bytes(&[])), ch(3, Modern, bytes(b"abd"))],
            ),
            col(
                "by_binary",
                ty("BINARY(4)", "BYTEA", "BLOB"),
                ty("BINARY(4)", "BYTEA", ""),
                vec![
                    per("X'01'", "'\\x01000000'::bytea", "X'01000000'"),
                    bytes(&[0xde, 0xad, 0xbe, 0xef]),
                    bytes(&[0, 0, 0, 0]),
                    L::Null,
                ],
                vec![ch(1, Modern, bytes(&[0xde, 0xad, 0xbe, 0xee]))],
            ),
            col(
                "by_tinyblob",
                ty("TINYBLOB", "BYTEA", "BLOB"),
                ty("BLOB", "BYTEA", ""),
                vec![bytes(b"x"), bytes(&[]), L::Null],
                vec![ch(0, Legacy, bytes(b"X"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 14. UUIDs.

const UUIDS: [&str; 4] = [
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    // A version-1 UUID: MariaDB's UUID type orders these by swapped segments.
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
];

fn uuid_bytes(u: &str) -> L {
    n(&format!("X'{}'", u.replace('-', "")))
}

/// Rule: a UUID (PostgreSQL's or MariaDB's type) against CHAR(36) in either case or against
/// BINARY(16) compares as a UUID. Seen: MariaDB's UUID type reads any input in lower case.
fn uuids() -> Group {
    let lower = || {
        let mut v: Vec<L> = UUIDS.iter().map(|u| s(u)).collect();
        v.push(L::Null);
        v
    };
    Group {
        prefix: "zoo_uuid",
        columns: vec![
            col(
                "uu_char36_lower",
                ty("CHAR(36)", "CHAR(36)", "CHAR(36)"),
                ty("UUID", "UUID", ""),
                lower(),
                vec![
                    ch(0, Modern, s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12")),
                    ch(4, Legacy, s(UUIDS[1])),
                ],
            ),
            col(
                "uu_char36_upper",
                ty("CHAR(36)", "VARCHAR(36)", "CHAR(36)"),
                ty("UUID", "UUID", ""),
                {
                    let mut v: Vec<L> = UUIDS
                        .iter()
                        .map(|u| both(s(&u.to_ascii_uppercase()), s(u)))
                        .collect();
                    v.push(L::Null);
                    v
                },
                vec![
                    ch(3, Legacy, s("6BA7B810-9DAD-11D1-80B4-00C04FD430C9")),
                    ch(1, Modern, L::Null),
                ],
            ),
            col(
                "uu_binary16",
                ty("BINARY(16)", "", ""),
                ty("UUID", "UUID", ""),
                {
                    let mut v: Vec<L> = UUIDS.iter().map(|u| both(uuid_bytes(u), s(u))).collect();
                    v.push(L::Null);
                    v
                },
                vec![ch(
                    0,
                    Legacy,
                    uuid_bytes("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a10"),
                )],
            ),
            col(
                "uu_native",
                ty("UUID", "UUID", ""),
                ty("UUID", "UUID", ""),
                lower(),
                vec![ch(2, Modern, s("ffffffff-ffff-ffff-ffff-fffffffffffe"))],
            ),
        ],
        ..Group::default()
    }
}

// ---------------------------------------------------------------------------------------
// 15. PostgreSQL arrays and domains.

/// Rule: arrays compare element by element, in order (unlike a SET): {1,2,3} is not
/// {3,2,1}, NULL is not {}, a NULL element is not the text 'NULL'; an int[] against a
/// bigint[] compares the numbers.
fn pg_arrays() -> Group {
    Group {
        prefix: "zoo_array",
        columns: vec![
            col(
                "ar_int",
                ty("", "INTEGER[]", ""),
                ty("", "INTEGER[]", ""),
                vec![
                    n("'{1,2,3}'"),
                    n("'{}'"),
                    L::Null,
                    n("'{NULL}'"),
                    n("'{-2147483648,2147483647}'"),
                    n("'{{1,2},{3,4}}'"),
                ],
                vec![
                    ch(0, Modern, n("'{3,2,1}'")),
                    ch(1, Legacy, L::Null),
                    ch(5, Modern, n("'{1,2,3,4}'")),
                ],
            ),
            col(
                "ar_text",
                ty("", "TEXT[]", ""),
                ty("", "TEXT[]", ""),
                vec![
                    n("'{a,b}'"),
                    n(r#"'{"with space",Zoë}'"#),
                    n("'{}'"),
                    L::Null,
                    n("'{NULL}'"),
                    n(r#"'{""}'"#),
                ],
                vec![
                    ch(0, Legacy, n("'{b,a}'")),
                    ch(4, Modern, n(r#"'{"NULL"}'"#)),
                    ch(5, Modern, n("'{}'")),
                ],
            ),
            col(
                "ar_widen",
                ty("", "INTEGER[]", ""),
                ty("", "BIGINT[]", ""),
                vec![n("'{1,2}'"), n("'{}'"), L::Null],
                vec![ch(0, Modern, n("'{1,2,2}'"))],
            ),
        ],
        ..Group::default()
    }
}

/// Rule: a domain compares as its base type (a domain over numeric(10,2) as that decimal).
fn pg_domains() -> Group {
    Group {
        prefix: "zoo_domain",
        setup: vec![
            (
                Backend::Postgres,
                "CREATE DOMAIN dw_money_{u} AS NUMERIC(10,2)",
            ),
            (
                Backend::Postgres,
                "CREATE DOMAIN dw_code_{u} AS VARCHAR(10) CHECK (VALUE <> '')",
            ),
        ],
        teardown: vec![
            (Backend::Postgres, "DROP DOMAIN dw_money_{u}"),
            (Backend::Postgres, "DROP DOMAIN dw_code_{u}"),
        ],
        columns: vec![
            col(
                "dm_money",
                ty("DECIMAL(10,2)", "NUMERIC(10,2)", "NUMERIC(10,2)"),
                ty("", "dw_money_{u}", ""),
                nums(&["0.00", "12.34", "-99999999.99", "99999999.99", "NULL"]),
                vec![ch(1, Modern, n("12.35"))],
            ),
            col(
                "dm_code",
                ty("VARCHAR(10)", "TEXT", "TEXT"),
                ty("", "dw_code_{u}", ""),
                strs(&[Some("A1"), Some("Zoë"), None]),
                vec![ch(0, Legacy, s("a1"))],
            ),
        ],
        ..Group::default()
    }
}

stamp_tests! {
    zoo;
    integers_mariadb_vs_postgres: integers, Backend::MySql, Backend::Postgres;
    integers_mariadb_vs_mariadb: integers, Backend::MySql, Backend::MySql;
    integers_postgres_vs_postgres: integers, Backend::Postgres, Backend::Postgres;
    integers_sqlite_vs_postgres: integers, Backend::Sqlite, Backend::Postgres;
    integers_sqlite_vs_mariadb: integers, Backend::Sqlite, Backend::MySql;
    bigint_unsigned_mariadb_vs_postgres: bigint_unsigned, Backend::MySql, Backend::Postgres;
    bigint_unsigned_mariadb_vs_mariadb: bigint_unsigned, Backend::MySql, Backend::MySql;
    bigint_unsigned_postgres_vs_postgres: bigint_unsigned, Backend::Postgres, Backend::Postgres;
    booleans_mariadb_vs_postgres: booleans, Backend::MySql, Backend::Postgres;
    booleans_mariadb_vs_mariadb: booleans, Backend::MySql, Backend::MySql;
    booleans_postgres_vs_postgres: booleans, Backend::Postgres, Backend::Postgres;
    booleans_sqlite_vs_postgres: booleans, Backend::Sqlite, Backend::Postgres;
    booleans_sqlite_vs_mariadb: booleans, Backend::Sqlite, Backend::MySql;
    decimals_mariadb_vs_postgres: decimals, Backend::MySql, Backend::Postgres;
    decimals_mariadb_vs_mariadb: decimals, Backend::MySql, Backend::MySql;
    decimals_postgres_vs_postgres: decimals, Backend::Postgres, Backend::Postgres;
    decimals_sqlite_vs_postgres: decimals, Backend::Sqlite, Backend::Postgres;
    decimals_sqlite_vs_mariadb: decimals, Backend::Sqlite, Backend::MySql;
    floats_mariadb_vs_postgres: floats, Backend::MySql, Backend::Postgres;
    floats_mariadb_vs_mariadb: floats, Backend::MySql, Backend::MySql;
    floats_postgres_vs_postgres: floats, Backend::Postgres, Backend::Postgres;
    floats_sqlite_vs_postgres: floats, Backend::Sqlite, Backend::Postgres;
    floats_sqlite_vs_mariadb: floats, Backend::Sqlite, Backend::MySql;
    char_padding_mariadb_vs_postgres: char_padding, Backend::MySql, Backend::Postgres;
    char_padding_mariadb_vs_mariadb: char_padding, Backend::MySql, Backend::MySql;
    char_padding_postgres_vs_postgres: char_padding, Backend::Postgres, Backend::Postgres;
    char_padding_sqlite_vs_postgres: char_padding, Backend::Sqlite, Backend::Postgres;
    char_padding_sqlite_vs_mariadb: char_padding, Backend::Sqlite, Backend::MySql;
    text_ci_mariadb_vs_postgres: text_ci, Backend::MySql, Backend::Postgres;
    text_ci_mariadb_vs_mariadb: text_ci, Backend::MySql, Backend::MySql;
    text_ci_postgres_vs_postgres: text_ci, Backend::Postgres, Backend::Postgres;
    text_ci_sqlite_vs_postgres: text_ci, Backend::Sqlite, Backend::Postgres;
    text_ci_sqlite_vs_mariadb: text_ci, Backend::Sqlite, Backend::MySql;
    text_bin_mariadb_vs_postgres: text_bin, Backend::MySql, Backend::Postgres;
    text_bin_mariadb_vs_mariadb: text_bin, Backend::MySql, Backend::MySql;
    text_bin_sqlite_vs_mariadb: text_bin, Backend::Sqlite, Backend::MySql;
    enums_mariadb_vs_postgres: enums, Backend::MySql, Backend::Postgres;
    enums_mariadb_vs_mariadb: enums, Backend::MySql, Backend::MySql;
    enums_postgres_vs_postgres: enums, Backend::Postgres, Backend::Postgres;
    enums_sqlite_vs_postgres: enums, Backend::Sqlite, Backend::Postgres;
    enums_sqlite_vs_mariadb: enums, Backend::Sqlite, Backend::MySql;
    sets_mariadb_vs_postgres: sets, Backend::MySql, Backend::Postgres;
    sets_mariadb_vs_mariadb: sets, Backend::MySql, Backend::MySql;
    years_mariadb_vs_postgres: years, Backend::MySql, Backend::Postgres;
    years_mariadb_vs_mariadb: years, Backend::MySql, Backend::MySql;
    years_postgres_vs_postgres: years, Backend::Postgres, Backend::Postgres;
    years_sqlite_vs_postgres: years, Backend::Sqlite, Backend::Postgres;
    years_sqlite_vs_mariadb: years, Backend::Sqlite, Backend::MySql;
    dates_and_timestamps_mariadb_vs_postgres: dates_and_timestamps, Backend::MySql, Backend::Postgres;
    dates_and_timestamps_mariadb_vs_mariadb: dates_and_timestamps, Backend::MySql, Backend::MySql;
    dates_and_timestamps_postgres_vs_postgres: dates_and_timestamps, Backend::Postgres, Backend::Postgres;
    dates_and_timestamps_sqlite_vs_postgres: dates_and_timestamps, Backend::Sqlite, Backend::Postgres;
    dates_and_timestamps_sqlite_vs_mariadb: dates_and_timestamps, Backend::Sqlite, Backend::MySql;
    times_of_day_mariadb_vs_postgres: times_of_day, Backend::MySql, Backend::Postgres;
    times_of_day_mariadb_vs_mariadb: times_of_day, Backend::MySql, Backend::MySql;
    times_of_day_postgres_vs_postgres: times_of_day, Backend::Postgres, Backend::Postgres;
    times_of_day_sqlite_vs_postgres: times_of_day, Backend::Sqlite, Backend::Postgres;
    times_of_day_sqlite_vs_mariadb: times_of_day, Backend::Sqlite, Backend::MySql;
    mixed_precisions_mariadb_vs_postgres: mixed_precisions, Backend::MySql, Backend::Postgres;
    mixed_precisions_mariadb_vs_mariadb: mixed_precisions, Backend::MySql, Backend::MySql;
    mixed_precisions_postgres_vs_postgres: mixed_precisions, Backend::Postgres, Backend::Postgres;
    mixed_precisions_sqlite_vs_postgres: mixed_precisions, Backend::Sqlite, Backend::Postgres;
    mixed_precisions_sqlite_vs_mariadb: mixed_precisions, Backend::Sqlite, Backend::MySql;
    zero_dates_mariadb_vs_postgres: zero_dates, Backend::MySql, Backend::Postgres;
    zero_dates_mariadb_vs_mariadb: zero_dates, Backend::MySql, Backend::MySql;
    json_mariadb_vs_postgres: json, Backend::MySql, Backend::Postgres;
    json_mariadb_vs_mariadb: json, Backend::MySql, Backend::MySql;
    json_postgres_vs_postgres: json, Backend::Postgres, Backend::Postgres;
    json_sqlite_vs_postgres: json, Backend::Sqlite, Backend::Postgres;
    json_sqlite_vs_mariadb: json, Backend::Sqlite, Backend::MySql;
    bytes_mariadb_vs_postgres: bytes_group, Backend::MySql, Backend::Postgres;
    bytes_mariadb_vs_mariadb: bytes_group, Backend::MySql, Backend::MySql;
    bytes_postgres_vs_postgres: bytes_group, Backend::Postgres, Backend::Postgres;
    bytes_sqlite_vs_postgres: bytes_group, Backend::Sqlite, Backend::Postgres;
    bytes_sqlite_vs_mariadb: bytes_group, Backend::Sqlite, Backend::MySql;
    uuids_mariadb_vs_postgres: uuids, Backend::MySql, Backend::Postgres;
    uuids_mariadb_vs_mariadb: uuids, Backend::MySql, Backend::MySql;
    uuids_postgres_vs_postgres: uuids, Backend::Postgres, Backend::Postgres;
    uuids_sqlite_vs_postgres: uuids, Backend::Sqlite, Backend::Postgres;
    uuids_sqlite_vs_mariadb: uuids, Backend::Sqlite, Backend::MySql;
    arrays_postgres_vs_postgres: pg_arrays, Backend::Postgres, Backend::Postgres;
    domains_mariadb_vs_postgres: pg_domains, Backend::MySql, Backend::Postgres;
    domains_postgres_vs_postgres: pg_domains, Backend::Postgres, Backend::Postgres;
    domains_sqlite_vs_postgres: pg_domains, Backend::Sqlite, Backend::Postgres;
}

// ---------------------------------------------------------------------------------------
// 16. Keys of every type and collation, with enough rows for several segments.

/// One part of a key, as the agent orders it: integers by value, everything else by the
/// bytes of its canonical text (a UUID's is lower case with hyphens).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum K {
    Int(i128),
    Text(String),
}

impl K {
    /// As a result names it.
    fn shown(&self) -> String {
        match self {
            K::Int(i) => i.to_string(),
            K::Text(s) => s.clone(),
        }
    }
}

/// How a key part is written on each side.
#[derive(Clone, Copy, Debug)]
enum Spell {
    Number,
    Text,
    /// Legacy holds the UUID as upper-case text, modern in its canonical form.
    UuidUpper,
    /// Legacy holds the UUID's 16 bytes, modern its canonical form.
    UuidBytes,
}

impl Spell {
    fn render(self, k: &K, role: Role) -> String {
        match (self, k) {
            (Spell::Number, K::Int(i)) => i.to_string(),
            (Spell::Text, K::Text(s)) => quote(s),
            (Spell::UuidUpper, K::Text(s)) => match role {
                Legacy => quote(&s.to_ascii_uppercase()),
                Modern => quote(s),
            },
            (Spell::UuidBytes, K::Text(s)) => match role {
                Legacy => format!("X'{}'", s.replace('-', "")),
                Modern => quote(s),
            },
            (spell, k) => panic!("{spell:?} cannot write {k:?}"),
        }
    }
}

struct KeyCol {
    name: &'static str,
    legacy: Ty,
    modern: Ty,
    spell: Spell,
}

fn kc(name: &'static str, legacy: Ty, modern: Ty, spell: Spell) -> KeyCol {
    KeyCol {
        name,
        legacy,
        modern,
        spell,
    }
}

/// A kind of key: its columns and the keys (each a row; `v` is compared beside them).
struct KeySet {
    prefix: &'static str,
    cols: Vec<KeyCol>,
    keys: Vec<Vec<K>>,
    extensions: &'static [&'static str],
}

fn one(keys: impl IntoIterator<Item = K>) -> Vec<Vec<K>> {
    keys.into_iter().map(|k| vec![k]).collect()
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const KEY_ROWS: usize = 2400;

/// Keys near 0 and near `max`.
fn ends(max: i128) -> impl Iterator<Item = K> {
    let half = KEY_ROWS as i128 / 2;
    (0..half).chain(max - half + 1..=max).map(K::Int)
}

/// `INT UNSIGNED` against its twin BIGINT, keys near 0 and near 4294967295.
fn key_int_unsigned() -> KeySet {
    KeySet {
        prefix: "zoo_k_u32",
        cols: vec![kc(
            "k",
            ty("INT UNSIGNED", "BIGINT", "INT UNSIGNED"),
            ty("INT UNSIGNED", "BIGINT", ""),
            Spell::Number,
        )],
        keys: one(ends(u32::MAX as i128)),
        extensions: &[],
    }
}

/// `BIGINT UNSIGNED` against NUMERIC(20,0): keys near 0, around 2^63 (where a signed
/// reading would wrap) and near 18446744073709551615; they must be ordered by value.
fn key_bigint_unsigned() -> KeySet {
    let mid = 1i128 << 63;
    let mut keys: Vec<K> = ends(u64::MAX as i128).collect();
    keys.extend((mid - 100..mid + 100).map(K::Int));
    KeySet {
        prefix: "zoo_k_u64",
        cols: vec![kc(
            "k",
            ty("BIGINT UNSIGNED", "NUMERIC(20,0)", ""),
            ty("BIGINT UNSIGNED", "NUMERIC(20,0)", ""),
            Spell::Number,
        )],
        keys: one(keys),
        extensions: &[],
    }
}

/// SMALLINT (against INT where the modern side widened it), negative keys included.
fn key_smallint() -> KeySet {
    let mut keys: Vec<K> = (0..KEY_ROWS as i128 - 1)
        .map(|i| K::Int(-32768 + i * 27))
        .collect();
    keys.push(K::Int(32767));
    KeySet {
        prefix: "zoo_k_i16",
        cols: vec![kc(
            "k",
            ty("SMALLINT", "SMALLINT", "SMALLINT"),
            ty("INT", "INTEGER", ""),
            Spell::Number,
        )],
        keys: one(keys),
        extensions: &[],
    }
}

/// `n` text keys: `prefixes[i % len]` followed by a number, so keys differ past their prefix.
fn text_keys(prefixes: &[&str], n: usize) -> Vec<K> {
    (0..n)
        .map(|i| {
            K::Text(format!(
                "{}{}",
                prefixes[i % prefixes.len()],
                splitmix(i as u64) % 1_000_000_007
            ))
        })
        .collect()
}

/// Case-sensitive text keys: `utf8mb4_bin` against "C" and the default collation. Keys
/// that differ only in case are distinct rows (no trailing spaces: `utf8mb4_bin` is PAD
/// SPACE, seen: 'a ' beside 'a' is a duplicate key).
fn key_text_bin() -> KeySet {
    KeySet {
        prefix: "zoo_k_bin",
        cols: vec![kc(
            "k",
            ty(
                "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                "TEXT",
                "TEXT",
            ),
            ty(
                "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                "TEXT COLLATE \"C\"",
                "",
            ),
            Spell::Text,
        )],
        keys: one(text_keys(
            &["abc", "ABC", "Abc", "ä", "Ä", "王", "😀", "z"],
            KEY_ROWS / 2,
        )
        .into_iter()
        // The same keys again with their case swapped: pairs that differ in case only.
        .flat_map(|k| {
            let K::Text(t) = &k else { unreachable!() };
            let swapped: String = t
                .chars()
                .map(|c| {
                    if c.is_lowercase() {
                        c.to_uppercase().next().unwrap()
                    } else {
                        c.to_lowercase().next().unwrap()
                    }
                })
                .collect();
            // Caseless prefixes (王, 😀) get a suffix instead.
            let other = if swapped == *t {
                K::Text(format!("{t}x"))
            } else {
                K::Text(swapped)
            };
            [k, other]
        })),
        extensions: &[],
    }
}

/// Case-insensitive text keys: `utf8mb4_general_ci`/`unicode_ci` against an ICU collation
/// and citext, and SQLite's NOCASE. No two keys equal under any of them; their order under
/// the collations is not the byte order the diff must use.
fn key_text_ci() -> KeySet {
    KeySet {
        prefix: "zoo_k_ci",
        cols: vec![kc(
            "k",
            ty(
                "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                "CITEXT",
                "TEXT COLLATE NOCASE",
            ),
            ty(
                "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                "TEXT COLLATE \"en-x-icu\"",
                "",
            ),
            Spell::Text,
        )],
        keys: one(text_keys(
            &["k", "Ä", "文", "Z", "é", "ß", "Ø", "-"],
            KEY_ROWS,
        )),
        extensions: &["citext"],
    }
}

/// latin1 keys (read as the characters they hold, ordered as UTF-8 bytes).
fn key_latin1() -> KeySet {
    KeySet {
        prefix: "zoo_k_latin1",
        cols: vec![kc(
            "k",
            ty("VARCHAR(40) CHARACTER SET latin1", "", "TEXT"),
            ty(
                "VARCHAR(40) CHARACTER SET latin1 COLLATE latin1_bin",
                "TEXT",
                "",
            ),
            Spell::Text,
        )],
        keys: one(text_keys(
            &["a", "Å", "é", "ß", "ÿ", "Ø", "Z", "ñ"],
            KEY_ROWS,
        )),
        extensions: &[],
    }
}

/// `(order_id INT UNSIGNED, line_no SMALLINT)`: orders near 0 and near 4294967295, lines
/// negative and positive.
fn key_order_lines() -> KeySet {
    let orders = ends(u32::MAX as i128).step_by(3);
    let keys = orders
        .flat_map(|o| [-32768, 1, 2].map(|l| vec![o.clone(), K::Int(l)]))
        .collect();
    KeySet {
        prefix: "zoo_k_lines",
        cols: vec![
            kc(
                "order_id",
                ty("INT UNSIGNED", "BIGINT", "INT UNSIGNED"),
                ty("INT UNSIGNED", "BIGINT", ""),
                Spell::Number,
            ),
            kc(
                "line_no",
                ty("SMALLINT", "SMALLINT", "SMALLINT"),
                ty("SMALLINT", "INTEGER", ""),
                Spell::Number,
            ),
        ],
        keys,
        extensions: &[],
    }
}

/// `(region CHAR(2), code VARCHAR(20) COLLATE utf8mb4_bin)`: one-letter regions are padded
/// in PostgreSQL's char(2), and codes differ in case only.
fn key_region_code() -> KeySet {
    let regions = ["A", "AT", "DE", "ÖS", "Z"];
    let codes: Vec<String> = (0..KEY_ROWS / regions.len() / 2)
        .flat_map(|i| {
            let c = format!("c{:x}", splitmix(i as u64) % 1_000_003);
            [c.clone(), c.to_ascii_uppercase()]
        })
        .collect();
    let keys = regions
        .iter()
        .flat_map(|r| {
            codes
                .iter()
                .map(|c| vec![K::Text(r.to_string()), K::Text(c.clone())])
        })
        .collect();
    KeySet {
        prefix: "zoo_k_region",
        cols: vec![
            kc(
                "region",
                ty("CHAR(2)", "CHAR(2)", "CHAR(2)"),
                ty("CHAR(2)", "CHAR(2)", ""),
                Spell::Text,
            ),
            kc(
                "code",
                ty(
                    "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "VARCHAR(20) COLLATE \"C\"",
                    "VARCHAR(20)",
                ),
                ty(
                    "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                    "TEXT COLLATE \"C\"",
                    "",
                ),
                Spell::Text,
            ),
        ],
        keys,
        extensions: &[],
    }
}

/// Random RFC 4122 UUIDs, version 4 and every third one version 1 (which MariaDB's UUID
/// type orders by swapped segments; seen: ORDER BY the column puts
/// ffffffff-0000-1000-8000-... before 00000001-0000-1000-8000-...). Seen: MariaDB's UUID
/// type refuses some non-RFC values, e.g. version f with variant 0.
fn uuid_keys() -> Vec<K> {
    (0..KEY_ROWS as u64)
        .map(|i| {
            let mut h = format!("{:016x}{:016x}", splitmix(i), splitmix(i + 1_000_000));
            h.replace_range(12..13, if i % 3 == 0 { "1" } else { "4" });
            let variant = ["8", "9", "a", "b"][(splitmix(i + 7) % 4) as usize];
            h.replace_range(16..17, variant);
            K::Text(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        })
        .collect()
}

/// CHAR(36) in upper case against a UUID type.
fn key_uuid_char36() -> KeySet {
    KeySet {
        prefix: "zoo_k_uuid36",
        cols: vec![kc(
            "k",
            ty("CHAR(36)", "CHAR(36)", "CHAR(36)"),
            ty("UUID", "UUID", ""),
            Spell::UuidUpper,
        )],
        keys: one(uuid_keys()),
        extensions: &[],
    }
}

/// BINARY(16) against a UUID type.
fn key_uuid_binary16() -> KeySet {
    KeySet {
        prefix: "zoo_k_uuid16",
        cols: vec![kc(
            "k",
            ty("BINARY(16)", "", ""),
            ty("UUID", "UUID", ""),
            Spell::UuidBytes,
        )],
        keys: one(uuid_keys()),
        extensions: &[],
    }
}

/// MariaDB's UUID type against PostgreSQL's (and its own).
fn key_uuid_native() -> KeySet {
    KeySet {
        prefix: "zoo_k_uuid",
        cols: vec![kc(
            "k",
            ty("UUID", "UUID", ""),
            ty("UUID", "UUID", ""),
            Spell::Text,
        )],
        keys: one(uuid_keys()),
        extensions: &[],
    }
}

/// A table of `rows` (key, v) on `side`.
async fn key_table(side: &Side<'_>, ks: &KeySet, rows: &[(Vec<K>, i64)]) {
    let b = side.db.backend;
    let mut ddl: Vec<String> = ks
        .cols
        .iter()
        .map(|c| {
            let t = match side.role {
                Legacy => c.legacy,
                Modern => c.modern,
            };
            format!("{} {} NOT NULL", c.name, t.on(b).unwrap())
        })
        .collect();
    ddl.push(format!("v {}", int_type(b)));
    let names: Vec<&str> = ks.cols.iter().map(|c| c.name).collect();
    side.db
        .exec(&format!(
            "CREATE TABLE {} ({}, PRIMARY KEY ({})){}",
            side.table,
            ddl.join(", "),
            names.join(", "),
            table_suffix(b)
        ))
        .await;
    for chunk in rows.chunks(400) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(key, v)| {
                let parts: Vec<String> = key
                    .iter()
                    .zip(&ks.cols)
                    .map(|(k, c)| c.spell.render(k, side.role))
                    .collect();
                format!("({}, {v})", parts.join(", "))
            })
            .collect();
        side.db
            .exec(&format!(
                "INSERT INTO {} ({}, v) VALUES {}",
                side.table,
                names.join(", "),
                values.join(", ")
            ))
            .await;
    }
}

fn key_where(ks: &KeySet, key: &[K], role: Role) -> String {
    key.iter()
        .zip(&ks.cols)
        .map(|(k, c)| format!("{} = {}", c.name, c.spell.render(k, role)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A reported key as text per key column: numbers printed, text as it is.
fn reported_key(s: &driftwatch::check::Difference, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| match s.key.get(*n) {
            Some(serde_json::Value::String(t)) => t.clone(),
            Some(serde_json::Value::Number(x)) => x.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Equal tables compare equal; then rows deleted on either side and values changed, near
/// the ends of the key space and near the 500-row segment edges, are all found, each
/// classified, and nothing else is.
async fn keyed(keys: fn() -> KeySet, legacy: Backend, modern: Backend) {
    let (Some(l), Some(m)) = (Db::connect(legacy).await, Db::connect(modern).await) else {
        return;
    };
    let ks = keys();
    let what = format!("{}: {legacy:?} legacy vs {modern:?} modern", ks.prefix);
    for c in &ks.cols {
        assert!(
            c.legacy.on(legacy).is_some() && c.modern.on(modern).is_some(),
            "{what}: key column {} has no type here",
            c.name
        );
    }
    let mut sorted = ks.keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ks.keys.len(), "{what}: duplicate test keys");
    let n = sorted.len();
    assert!(n >= 2000, "{what}: too few keys for several segments");
    let rows: Vec<(Vec<K>, i64)> = sorted
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), i as i64))
        .collect();
    let sl = prepare(&l, Legacy, ks.prefix, ks.extensions, &[]).await;
    let sm = prepare(&m, Modern, ks.prefix, ks.extensions, &[]).await;
    key_table(&sl, &ks, &rows).await;
    key_table(&sm, &ks, &rows).await;
    let names: Vec<&str> = ks.cols.iter().map(|c| c.name).collect();
    let checks = async {
        let run = diff(&sl, &sm, &names).await;
        assert_equal(&run, n, &what);

        let gone_legacy = [0, 499, 1000, n - 1];
        let gone_modern = [1, 500, 1501, n - 2];
        let changed_modern = [2, 501, 999, 1999, n - 3];
        let changed_legacy = [1001];
        let mut want = Vec::new();
        for (positions, side, kind) in [
            (&gone_legacy[..], &sl, "missing_in_legacy"),
            (&gone_modern[..], &sm, "missing_in_modern"),
        ] {
            for p in positions {
                side.db
                    .exec(&format!(
                        "DELETE FROM {} WHERE {}",
                        side.table,
                        key_where(&ks, &sorted[*p], side.role)
                    ))
                    .await;
                want.push((sorted[*p].iter().map(K::shown).collect::<Vec<_>>(), kind));
            }
        }
        for (positions, side) in [(&changed_modern[..], &sm), (&changed_legacy[..], &sl)] {
            for p in positions {
                side.db
                    .exec(&format!(
                        "UPDATE {} SET v = -1 WHERE {}",
                        side.table,
                        key_where(&ks, &sorted[*p], side.role)
                    ))
                    .await;
                want.push((sorted[*p].iter().map(K::shown).collect(), "changed"));
            }
        }
        let run = diff(&sl, &sm, &names).await;
        assert_eq!(
            run.error, None,
            "{what}: after the changes, the check failed"
        );
        let samples = run.samples.clone().unwrap_or_default();
        let mut got: Vec<(Vec<String>, &str)> = samples
            .iter()
            .map(|s| (reported_key(s, &names), s.kind.as_str()))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{what}: samples:\n{}", samples_text(&run));
        for s in samples.iter().filter(|s| s.kind == "changed") {
            assert_eq!(s.columns, ["v"], "{what}: {s:?}");
        }
    };
    checked(checks, &[&sl, &sm], &[]).await;
}

stamp_tests! {
    keyed;
    int_unsigned_keys_mariadb_vs_postgres: key_int_unsigned, Backend::MySql, Backend::Postgres;
    int_unsigned_keys_mariadb_vs_mariadb: key_int_unsigned, Backend::MySql, Backend::MySql;
    int_unsigned_keys_sqlite_vs_postgres: key_int_unsigned, Backend::Sqlite, Backend::Postgres;
    int_unsigned_keys_sqlite_vs_mariadb: key_int_unsigned, Backend::Sqlite, Backend::MySql;
    bigint_unsigned_keys_mariadb_vs_postgres: key_bigint_unsigned, Backend::MySql, Backend::Postgres;
    bigint_unsigned_keys_mariadb_vs_mariadb: key_bigint_unsigned, Backend::MySql, Backend::MySql;
    bigint_unsigned_keys_postgres_vs_postgres: key_bigint_unsigned, Backend::Postgres, Backend::Postgres;
    smallint_keys_mariadb_vs_postgres: key_smallint, Backend::MySql, Backend::Postgres;
    smallint_keys_mariadb_vs_mariadb: key_smallint, Backend::MySql, Backend::MySql;
    smallint_keys_postgres_vs_postgres: key_smallint, Backend::Postgres, Backend::Postgres;
    smallint_keys_sqlite_vs_postgres: key_smallint, Backend::Sqlite, Backend::Postgres;
    smallint_keys_sqlite_vs_mariadb: key_smallint, Backend::Sqlite, Backend::MySql;
    text_bin_keys_mariadb_vs_postgres: key_text_bin, Backend::MySql, Backend::Postgres;
    text_bin_keys_mariadb_vs_mariadb: key_text_bin, Backend::MySql, Backend::MySql;
    text_bin_keys_postgres_vs_postgres: key_text_bin, Backend::Postgres, Backend::Postgres;
    text_bin_keys_sqlite_vs_postgres: key_text_bin, Backend::Sqlite, Backend::Postgres;
    text_bin_keys_sqlite_vs_mariadb: key_text_bin, Backend::Sqlite, Backend::MySql;
    text_ci_keys_mariadb_vs_postgres: key_text_ci, Backend::MySql, Backend::Postgres;
    text_ci_keys_mariadb_vs_mariadb: key_text_ci, Backend::MySql, Backend::MySql;
    text_ci_keys_postgres_vs_postgres: key_text_ci, Backend::Postgres, Backend::Postgres;
    text_ci_keys_sqlite_vs_postgres: key_text_ci, Backend::Sqlite, Backend::Postgres;
    text_ci_keys_sqlite_vs_mariadb: key_text_ci, Backend::Sqlite, Backend::MySql;
    latin1_keys_mariadb_vs_postgres: key_latin1, Backend::MySql, Backend::Postgres;
    latin1_keys_mariadb_vs_mariadb: key_latin1, Backend::MySql, Backend::MySql;
    latin1_keys_sqlite_vs_mariadb: key_latin1, Backend::Sqlite, Backend::MySql;
    order_line_keys_mariadb_vs_postgres: key_order_lines, Backend::MySql, Backend::Postgres;
    order_line_keys_mariadb_vs_mariadb: key_order_lines, Backend::MySql, Backend::MySql;
    order_line_keys_postgres_vs_postgres: key_order_lines, Backend::Postgres, Backend::Postgres;
    order_line_keys_sqlite_vs_postgres: key_order_lines, Backend::Sqlite, Backend::Postgres;
    order_line_keys_sqlite_vs_mariadb: key_order_lines, Backend::Sqlite, Backend::MySql;
    region_code_keys_mariadb_vs_postgres: key_region_code, Backend::MySql, Backend::Postgres;
    region_code_keys_mariadb_vs_mariadb: key_region_code, Backend::MySql, Backend::MySql;
    region_code_keys_postgres_vs_postgres: key_region_code, Backend::Postgres, Backend::Postgres;
    region_code_keys_sqlite_vs_postgres: key_region_code, Backend::Sqlite, Backend::Postgres;
    region_code_keys_sqlite_vs_mariadb: key_region_code, Backend::Sqlite, Backend::MySql;
    uuid_char36_keys_mariadb_vs_postgres: key_uuid_char36, Backend::MySql, Backend::Postgres;
    uuid_char36_keys_mariadb_vs_mariadb: key_uuid_char36, Backend::MySql, Backend::MySql;
    uuid_char36_keys_postgres_vs_postgres: key_uuid_char36, Backend::Postgres, Backend::Postgres;
    uuid_char36_keys_sqlite_vs_postgres: key_uuid_char36, Backend::Sqlite, Backend::Postgres;
    uuid_char36_keys_sqlite_vs_mariadb: key_uuid_char36, Backend::Sqlite, Backend::MySql;
    uuid_binary16_keys_mariadb_vs_postgres: key_uuid_binary16, Backend::MySql, Backend::Postgres;
    uuid_binary16_keys_mariadb_vs_mariadb: key_uuid_binary16, Backend::MySql, Backend::MySql;
    uuid_native_keys_mariadb_vs_postgres: key_uuid_native, Backend::MySql, Backend::Postgres;
    uuid_native_keys_mariadb_vs_mariadb: key_uuid_native, Backend::MySql, Backend::MySql;
}

/// A `_ci` legacy key against a case-sensitive modern key, where modern holds 'abc' and
/// 'ABC' as two rows and legacy (whose primary key refuses 'ABC' beside 'abc') holds only
/// 'abc'. Pinned: keys compare exactly, as data does, so legacy's 'abc' is modern's 'abc'
/// and modern's 'ABC' is a row legacy does not have: one difference, `ABC`
/// missing_in_legacy, and the run is not ok. That is the honest account: legacy cannot hold
/// that row, and the report says so; it neither merges the two modern rows into one nor
/// calls the tables equal.
async fn ci_key_against_case_sensitive(legacy: Backend, modern: Backend) {
    let (Some(l), Some(m)) = (Db::connect(legacy).await, Db::connect(modern).await) else {
        return;
    };
    let ks = KeySet {
        prefix: "zoo_k_cics",
        cols: vec![kc(
            "k",
            ty(
                "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
                "",
                "",
            ),
            ty(
                "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
                "TEXT",
                "",
            ),
            Spell::Text,
        )],
        keys: Vec::new(),
        extensions: &[],
    };
    let what = format!("{}: {legacy:?} legacy vs {modern:?} modern", ks.prefix);
    let mut rows: Vec<(Vec<K>, i64)> = text_keys(&["k", "m"], 1500)
        .into_iter()
        .enumerate()
        .map(|(i, k)| (vec![k], i as i64))
        .collect();
    rows.push((vec![K::Text("abc".into())], 1));
    let sl = prepare(&l, Legacy, ks.prefix, &[], &[]).await;
    let sm = prepare(&m, Modern, ks.prefix, &[], &[]).await;
    key_table(&sl, &ks, &rows).await;
    rows.push((vec![K::Text("ABC".into())], 2));
    key_table(&sm, &ks, &rows).await;
    let checks = async {
        let run = diff(&sl, &sm, &["k"]).await;
        assert_eq!(run.error, None, "{what}");
        assert_ne!(run.status, Status::Ok, "{what}");
        let samples = run.samples.clone().unwrap_or_default();
        let got: Vec<(Vec<String>, &str)> = samples
            .iter()
            .map(|s| (reported_key(s, &["k"]), s.kind.as_str()))
            .collect();
        assert_eq!(
            got,
            [(vec!["ABC".to_string()], "missing_in_legacy")],
            "{what}: samples:\n{}",
            samples_text(&run)
        );
    };
    checked(checks, &[&sl, &sm], &[]).await;
}

stamp_tests! {
    ci_key_against_case_sensitive;
    ci_legacy_key_vs_case_sensitive_postgres_key: Backend::MySql, Backend::Postgres;
    ci_legacy_key_vs_case_sensitive_mariadb_key: Backend::MySql, Backend::MySql;
}

// ---------------------------------------------------------------------------------------
// 11b. Zero months and days.

/// A date with a zero month or day ('2020-00-15', '2020-01-00'; MariaDB stores them with
/// `sql_mode=''` and reads them back as written, seen) is no real date: against the real
/// dates a lenient reading would make of it the run errors or reports each row, and is never
/// ok. (Whether it compares as NULL, like a zero date, is left open.)
#[tokio::test]
async fn partial_zero_dates_are_never_read_as_real_dates() {
    let (Some(l), Some(m)) = (
        Db::connect(Backend::MySql).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let sl = prepare(&l, Legacy, "zoo_zero_part", &[], &[]).await;
    let sm = prepare(&m, Modern, "zoo_zero_part", &[], &[]).await;
    l.exec(&format!(
        "CREATE TABLE {} (id INT PRIMARY KEY, d DATE) DEFAULT CHARSET=utf8mb4",
        sl.table
    ))
    .await;
    write(
        &l,
        &["SET SESSION sql_mode=''"],
        &format!(
            "INSERT INTO {} VALUES (1, '2020-00-15'), (2, '2020-01-00'), (3, '2020-02-02')",
            sl.table
        ),
    )
    .await;
    m.exec(&format!(
        "CREATE TABLE {} (id INTEGER PRIMARY KEY, d DATE)",
        sm.table
    ))
    .await;
    m.exec(&format!(
        "INSERT INTO {} VALUES (1, '2020-01-15'), (2, '2019-12-31'), (3, '2020-02-02')",
        sm.table
    ))
    .await;
    let checks = async {
        let run = diff(&sl, &sm, &["id"]).await;
        assert_ne!(run.status, Status::Ok, "{}", samples_text(&run));
        if run.error.is_none() {
            let mut ids: Vec<i64> = run
                .samples
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|s| s.key["id"].as_i64().unwrap_or(-1))
                .collect();
            ids.sort_unstable();
            assert_eq!(ids, [1, 2], "{}", samples_text(&run));
        }
    };
    checked(checks, &[&sl, &sm], &[]).await;
}

// ---------------------------------------------------------------------------------------
// 17. Types that cannot be compared exactly.

/// Rule: a type the agent cannot compare exactly against the other side (PostgreSQL's
/// `point` or `tsvector` against text) is refused, with a message that names the column and
/// says what to declare; never compared as its text.
async fn refused(legacy: Backend) {
    let (Some(l), Some(m)) = (
        Db::connect(legacy).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let text = match legacy {
        Backend::MySql => "VARCHAR(40)",
        _ => "TEXT",
    };
    for (column, modern_ty, value) in [
        ("p_point", "POINT", "'(1,2)'"),
        ("p_tsvector", "TSVECTOR", "'a fat cat'"),
    ] {
        let sl = prepare(&l, Legacy, "zoo_refused", &[], &[]).await;
        let sm = prepare(&m, Modern, "zoo_refused", &[], &[]).await;
        for (side, t) in [(&sl, text), (&sm, modern_ty)] {
            let b = side.db.backend;
            side.db
                .exec(&format!(
                    "CREATE TABLE {} (id {} PRIMARY KEY, a_name {text_ty}, {column} {t}){}",
                    side.table,
                    int_type(b),
                    table_suffix(b),
                    text_ty = if b == Backend::MySql {
                        "VARCHAR(40)"
                    } else {
                        "TEXT"
                    },
                ))
                .await;
            side.db
                .exec(&format!(
                    "INSERT INTO {} VALUES (1, 'x', {value})",
                    side.table
                ))
                .await;
        }
        let checks = async {
            let run = diff(&sl, &sm, &["id"]).await;
            let what = format!("{column}: {legacy:?} text vs PostgreSQL {modern_ty}");
            assert_eq!(run.status, Status::Error, "{what}: {}", samples_text(&run));
            let e = run.error.clone().unwrap_or_default();
            assert!(
                e.contains(column) && e.contains("type:"),
                "{what}: the error must name the column and say to declare its `type:`: {e}"
            );
        };
        checked(checks, &[&sl, &sm], &[]).await;
    }
}

stamp_tests! {
    refused;
    uncomparable_types_are_refused_mariadb_vs_postgres: Backend::MySql;
    uncomparable_types_are_refused_postgres_vs_postgres: Backend::Postgres;
    uncomparable_types_are_refused_sqlite_vs_postgres: Backend::Sqlite;
}
