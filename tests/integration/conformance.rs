//! The engine conformance suite: the same values, loaded into PostgreSQL, MariaDB and SQLite
//! with each engine's natural native types, must hash identically in every pairing (no false
//! positives), and every single-value change must be found, reported on its own key with
//! exactly the column that changed (no false negatives). Then zone-less wall times read in
//! `Europe/Berlin` against instants, across the DST transitions.
//!
//! Everything runs through the public API (`check::run` on a config built from YAML), so
//! what is proven here is what users get.

use std::collections::BTreeMap;

use crate::common::Seen;
use chrono::{NaiveDateTime, TimeZone};
use driftwatch::check::{RunOptions, Status};

use crate::common::{config_in, unique, Backend, Db};

/// The physical columns of the conformance table, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum C {
    Int,
    Dec,
    Bool,
    Text,
    Date,
    Ts,
    Tstz,
    Uuid,
    Bytes,
    Float,
}

const COLS: [C; 10] = [
    C::Int,
    C::Dec,
    C::Bool,
    C::Text,
    C::Date,
    C::Ts,
    C::Tstz,
    C::Uuid,
    C::Bytes,
    C::Float,
];

impl C {
    fn name(self) -> &'static str {
        match self {
            C::Int => "c_int",
            C::Dec => "c_dec",
            C::Bool => "c_bool",
            C::Text => "c_text",
            C::Date => "c_date",
            C::Ts => "c_ts",
            C::Tstz => "c_tstz",
            C::Uuid => "c_uuid",
            C::Bytes => "c_bytes",
            C::Float => "c_float",
        }
    }

    fn index(self) -> usize {
        COLS.iter().position(|c| *c == self).unwrap()
    }

    /// The engine's natural native type for this column.
    fn ddl(self, backend: Backend) -> &'static str {
        match backend {
            Backend::Postgres => match self {
                C::Int => "BIGINT",
                C::Dec => "NUMERIC(20,4)",
                C::Bool => "BOOLEAN",
                C::Text => "TEXT",
                C::Date => "DATE",
                C::Ts => "TIMESTAMP(6)",
                C::Tstz => "TIMESTAMPTZ",
                C::Uuid => "UUID",
                C::Bytes => "BYTEA",
                C::Float => "DOUBLE PRECISION",
            },
            Backend::MySql => match self {
                C::Int => "BIGINT NULL",
                C::Dec => "DECIMAL(20,4) NULL",
                C::Bool => "BOOLEAN NULL",
                C::Text => "VARCHAR(200) CHARACTER SET utf8mb4 NULL",
                C::Date => "DATE NULL",
                C::Ts => "DATETIME(6) NULL",
                C::Tstz => "TIMESTAMP(6) NULL DEFAULT NULL",
                C::Uuid => "CHAR(36) NULL",
                C::Bytes => "VARBINARY(64) NULL",
                C::Float => "DOUBLE NULL",
            },
            Backend::Sqlite => match self {
                C::Int | C::Bool => "INTEGER",
                C::Bytes => "BLOB",
                C::Float => "REAL",
                _ => "TEXT",
            },
        }
    }
}

/// The logical columns compared: (name, physical column, declared type). `c_dec2`, `c_ts0`
/// and the `c_float*` read the same physical columns at other scales/precisions, so
/// rounding and truncation are proven too.
const MAPPED: &[(&str, C, &str)] = &[
    ("c_int", C::Int, "int"),
    ("c_dec", C::Dec, "decimal(4)"),
    ("c_dec2", C::Dec, "decimal(2)"),
    ("c_bool", C::Bool, "bool"),
    ("c_text", C::Text, "text"),
    ("c_date", C::Date, "date"),
    ("c_ts", C::Ts, "timestamp(6)"),
    ("c_ts0", C::Ts, "timestamp(0)"),
    ("c_tstz", C::Tstz, "timestamp(6)"),
    ("c_uuid", C::Uuid, "uuid"),
    ("c_bytes", C::Bytes, "bytes"),
    ("c_float", C::Float, "float"),
    ("c_float10", C::Float, "float(10)"),
    ("c_float1", C::Float, "float(1)"),
    ("c_float17", C::Float, "float(17)"),
];

fn columns_yaml() -> String {
    let mut s = String::from("    columns:\n");
    for (name, c, ty) in MAPPED {
        let col = c.name();
        s.push_str(&format!(
            "      {name}: {{alpha: {col}, beta: {col}, type: \"{ty}\"}}\n"
        ));
    }
    s
}

/// One value, engine-neutral; each engine gets its own literal for it.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Null,
    Int(i64),
    /// A decimal as written (SQLite keeps exactly this text).
    Dec(&'static str),
    Bool(bool),
    Text(String),
    Date(&'static str),
    /// Zone-less wall time `YYYY-MM-DD HH:MM:SS[.f]`.
    Ts(String),
    /// An instant, given as its UTC wall time; each engine writes it its own way.
    Instant(String),
    Uuid(&'static str),
    Bytes(Vec<u8>),
    /// A double, as the decimal text that reads as it (or `NaN`, `Infinity`, `-Infinity`).
    Float(&'static str),
    /// The double sum of two doubles (`0.1 + 0.2` is 0.30000000000000004, not 0.3).
    FloatSum(&'static str, &'static str),
    /// A literal written verbatim (another spelling of an equal value on one engine).
    Sql(&'static str),
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

/// The instant `utc` as Berlin local time with its offset (`2026-03-29 03:00:00+02:00`).
fn berlin_with_offset(utc: &str, sep: char) -> String {
    let naive = NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("bad test instant {utc}: {e}"));
    let local = chrono_tz::Europe::Berlin.from_utc_datetime(&naive);
    local
        .format(&format!("%Y-%m-%d{sep}%H:%M:%S%.6f%:z"))
        .to_string()
}

/// The SQL literal of `v` on `backend`, in the row `id` (SQLite spells some values
/// differently from row to row: every spelling must canonicalise alike).
fn lit(backend: Backend, id: i64, v: &V) -> String {
    match v {
        V::Null => "NULL".into(),
        V::Sql(s) => s.to_string(),
        V::Int(i) => i.to_string(),
        V::Dec(s) => match backend {
            Backend::Sqlite => quote(s),
            _ => s.to_string(),
        },
        V::Bool(b) => match backend {
            Backend::Sqlite => i32::from(*b).to_string(),
            _ => if *b { "TRUE" } else { "FALSE" }.into(),
        },
        V::Text(s) => quote(s),
        V::Date(s) => quote(s),
        V::Ts(s) => match backend {
            Backend::Sqlite if id.rem_euclid(2) == 1 => quote(&s.replacen(' ', "T", 1)),
            _ => quote(s),
        },
        V::Instant(utc) => match backend {
            // PostgreSQL: Berlin local time with its offset (+01 or +02 by the date).
            Backend::Postgres => quote(&berlin_with_offset(utc, ' ')),
            // MariaDB's TIMESTAMP reads literals in the session zone, UTC here; it takes no
            // offsets in literals.
            Backend::MySql => quote(utc),
            Backend::Sqlite => match id.rem_euclid(3) {
                0 => quote(&format!("{}Z", utc.replacen(' ', "T", 1))),
                1 => quote(&berlin_with_offset(utc, 'T')),
                _ => quote(&format!("{utc}+00:00")),
            },
        },
        V::Uuid(s) => quote(s),
        V::Bytes(b) => match backend {
            Backend::Postgres => format!("'\\x{}'::bytea", hex(b)),
            _ => format!("X'{}'", hex(b)),
        },
        V::Float(s) => match backend {
            Backend::Postgres => format!("CAST({} AS DOUBLE PRECISION)", quote(s)),
            Backend::MySql => format!("CAST({} AS DOUBLE)", quote(s)),
            // SQLite stores no NaN (it becomes NULL): the text stays text in a REAL column.
            Backend::Sqlite => match *s {
                "NaN" => quote(s),
                "Infinity" if id.rem_euclid(2) == 0 => "9e999".into(),
                "-Infinity" if id.rem_euclid(2) == 0 => "-9e999".into(),
                // A REAL column turns numeric text into a double.
                _ if id.rem_euclid(2) == 1 => quote(s),
                _ => s.to_string(),
            },
        },
        V::FloatSum(a, b) => format!(
            "{} + {}",
            lit(backend, id, &V::Float(a)),
            lit(backend, id, &V::Float(b))
        ),
    }
}

fn texts() -> Vec<V> {
    [
        Some(""),
        Some("NULL"),
        Some("trailing "),
        Some(" leading"),
        Some("😀 emoji 👍🏽"),
        Some("e\u{301}"), // e + combining acute accent
        Some("\u{e9}"),   // precomposed é
        Some("a|V3:b|N"),
        Some("O'Brien"),
        Some("Zoë 日本語"),
        Some("N"),
        Some("V0:"),
        Some("tab\there"),
        Some("two\nlines"),
        Some("   "),
        None,
        Some("ß ünïcödé ÅÆØ"),
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, |s| V::Text(s.to_string())))
    .collect()
}

fn ints() -> Vec<V> {
    [
        Some(0),
        Some(1),
        Some(-1),
        Some(i64::MAX),
        Some(i64::MIN),
        Some(9_007_199_254_740_993), // 2^53 + 1: not representable as a double
        Some(-2_147_483_648),
        Some(4_294_967_296),
        None,
        Some(42),
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, V::Int))
    .collect()
}

fn decimals() -> Vec<V> {
    [
        Some("0"),
        Some("-0.0001"),
        Some("123.4000"),
        Some("99999999.9999"),
        Some("0.0001"),
        Some("-123.4550"),
        Some("9999999999999999.9999"),
        Some("-9999999999999999.9999"),
        Some("0.0050"),
        Some("-0.0050"),
        Some("1"),
        None,
        Some("0.5000"),
        Some("-0.0049"),
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, V::Dec))
    .collect()
}

fn bools() -> Vec<V> {
    vec![V::Bool(true), V::Bool(false), V::Null]
}

fn dates() -> Vec<V> {
    [
        Some("1969-12-31"),
        Some("1900-01-01"),
        Some("2000-02-29"),
        Some("1970-01-01"),
        Some("1000-01-01"),
        Some("9999-12-31"),
        Some("2026-03-29"),
        None,
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, V::Date))
    .collect()
}

fn timestamps() -> Vec<V> {
    [
        Some("2026-01-01 00:00:00.000001"),
        Some("2026-01-01 23:59:59.999999"),
        Some("1969-12-31 23:59:59.5"),
        Some("1970-01-01 00:00:00"),
        // Berlin's DST transitions, in UTC terms (nothing special for a UTC system).
        Some("2026-03-29 00:59:59.999999"),
        Some("2026-03-29 01:00:00"),
        Some("2026-10-25 00:30:00.25"),
        Some("2026-10-25 01:30:00"),
        Some("1900-01-01 12:00:00"),
        Some("2000-02-29 12:34:56.123456"),
        Some("9999-12-31 23:59:59.999999"),
        None,
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, |s| V::Ts(s.to_string())))
    .collect()
}

/// Instants MariaDB's TIMESTAMP can hold (1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC).
fn instants() -> Vec<V> {
    [
        Some("1970-01-01 00:00:01"),
        Some("2026-03-29 00:59:59.999999"), // last instant of CET before the spring switch
        Some("2026-03-29 01:00:00"),        // first instant of CEST
        Some("2026-10-25 00:59:59.999999"), // last instant of CEST
        Some("2026-10-25 01:00:00.000001"), // CET again
        Some("2038-01-19 03:14:07.999999"),
        Some("2026-06-15 12:00:00.000001"),
        None,
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, |s| V::Instant(s.to_string())))
    .collect()
}

fn uuids() -> Vec<V> {
    [
        Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        Some("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12"), // upper case input
        Some("00000000-0000-0000-0000-000000000000"),
        Some("FFFFFFFF-ffff-FFFF-ffff-FFFFFFFFFFFF"),
        None,
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, V::Uuid))
    .collect()
}

fn bytes() -> Vec<V> {
    [
        Some(vec![0x00]),
        Some(vec![0xff]),
        Some(vec![]),
        Some(b"|N".to_vec()),
        Some(b"V3:abc".to_vec()),
        Some(vec![0x20]),
        Some((0u8..16).collect()),
        None,
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, V::Bytes))
    .collect()
}

/// Doubles; with `special`, also NaN and the infinities (which MariaDB cannot store).
fn floats(special: bool) -> Vec<V> {
    let mut v: Vec<V> = [
        Some("0.3"),
        Some("1e-300"),
        Some("1.7976931348623157e308"),
        Some("-0.0"),
        Some("123456789.123456789"),
        // Ties at 1 digit (to even: 2, 4, -2, 2e-1) and at 15 (to even: 1e14, 100000000000002).
        Some("2.5"),
        Some("3.5"),
        Some("-2.5"),
        Some("0.25"),
        Some("0.5"),
        Some("100000000000000.5"),
        Some("100000000000001.5"),
        // Around a power of ten: the first rounds up to the second at 15 digits.
        Some("999.9999999999999"),
        Some("1000"),
        None,
        Some("-1.7976931348623157e308"),
        Some("2.2250738585072014e-308"), // the smallest normal double
        Some("4.9e-324"),                // the smallest subnormal
        Some("9007199254740993"),        // 2^53 + 1: reads as 2^53 everywhere
        Some("0.1"),
    ]
    .into_iter()
    .map(|t| t.map_or(V::Null, V::Float))
    .collect();
    if special {
        v.extend(["NaN", "Infinity", "-Infinity"].map(V::Float));
    }
    v
}

struct Row {
    id: i64,
    values: Vec<V>,
}

/// The first row holds NULL in every column; each following row takes the next edge case of
/// every column's list (shorter lists wrap around), so every edge case sits in some row.
fn rows(special_floats: bool) -> Vec<Row> {
    let lists = [
        ints(),
        decimals(),
        bools(),
        texts(),
        dates(),
        timestamps(),
        instants(),
        uuids(),
        bytes(),
        floats(special_floats),
    ];
    let n = lists.iter().map(Vec::len).max().unwrap();
    let mut ids = vec![1, i64::MIN, i64::MAX, -1, 0];
    ids.extend((1..).map(|i| i * 10).take(n - 4));
    let mut out = vec![Row {
        id: ids[0],
        values: vec![V::Null; COLS.len()],
    }];
    for (r, id) in ids[1..].iter().enumerate() {
        out.push(Row {
            id: *id,
            values: lists.iter().map(|l| l[r % l.len()].clone()).collect(),
        });
    }
    out
}

async fn load(db: &Db, data: &[Row]) -> String {
    let t = unique("conf");
    let cols: Vec<String> = COLS
        .iter()
        .map(|c| format!("{} {}", c.name(), c.ddl(db.backend)))
        .collect();
    let (id_ty, suffix) = match db.backend {
        Backend::Postgres => ("BIGINT", ""),
        Backend::MySql => ("BIGINT", " DEFAULT CHARSET=utf8mb4"),
        Backend::Sqlite => ("INTEGER", ""),
    };
    db.exec(&format!(
        "CREATE TABLE {t} (id {id_ty} PRIMARY KEY, {}){suffix}",
        cols.join(", ")
    ))
    .await;
    let names: Vec<&str> = COLS.iter().map(|c| c.name()).collect();
    let values: Vec<String> = data
        .iter()
        .map(|r| {
            let vals: Vec<String> = r.values.iter().map(|v| lit(db.backend, r.id, v)).collect();
            format!("({}, {})", r.id, vals.join(", "))
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO {t} (id, {}) VALUES {}",
        names.join(", "),
        values.join(", ")
    ))
    .await;
    t
}

/// One side of a check: a database, a table and the zone its zone-less timestamps are in.
struct Side<'a> {
    db: &'a Db,
    table: &'a str,
    timezone: Option<&'a str>,
}

async fn hash_diff(a: &Side<'_>, b: &Side<'_>, columns: &str) -> Seen {
    hash_diff_by(a, b, "id", columns).await
}

async fn hash_diff_by(a: &Side<'_>, b: &Side<'_>, key: &str, columns: &str) -> Seen {
    let dir = tempfile::tempdir().unwrap();
    let system = |s: &Side| match s.timezone {
        Some(tz) => format!("{{url: \"{}\", timezone: {tz}}}", s.db.url),
        None => format!("{{url: \"{}\"}}", s.db.url),
    };
    let config = config_in(
        dir.path(),
        &[
            (
                "driftwatch.yaml",
                &format!(
                    "systems:\n  alpha: {}\n  beta: {}\nchecks: [c.yaml]\n",
                    system(a),
                    system(b)
                ),
            ),
            (
                "c.yaml",
                &format!(
                    "checks:\n  - name: conformance\n    kind: hash_diff\n    schedule: '@hourly'\n    \
                     alpha: {{table: {}, key: [{key}]}}\n    beta: {{table: {}, key: [{key}]}}\n{columns}",
                    a.table, b.table
                ),
            ),
        ],
    );
    crate::common::run_first_check(
        &config,
        &RunOptions {
            samples: None,
            ..Default::default()
        },
    )
    .await
}

/// Equal data: no error, status ok, zero differences of any kind.
fn assert_equal(run: &Seen, what: &str) {
    assert_eq!(run.error, None, "{what}: the check failed");
    let d = run
        .differences
        .as_ref()
        .expect("hash_diff reports differences");
    assert!(
        d.changed == 0 && d.missing.iter().all(|(_, n)| *n == 0),
        "{what}: equal data must compare equal, got {d:?}; samples (canonical values per side):\n{}",
        serde_json::to_string_pretty(&run.samples).unwrap()
    );
    assert_eq!(run.status, Status::Ok, "{what}");
}

/// Which side a mutation is applied to.
#[derive(Clone, Copy, Debug)]
enum On {
    /// Alternate between the two sides.
    Either,
    /// Only the SQLite side (a re-spelling only SQLite can store); skipped otherwise.
    Sqlite,
    /// A side that is not PostgreSQL (PostgreSQL normalises the value on input).
    NotPostgres,
    /// Either side, alternating, when neither is MariaDB (a value it cannot store).
    NotMariaDb,
}

/// Change the cell holding `from` in column `col` (first such row) to `to`, on one side;
/// `expect` lists the logical columns that must then be reported changed (none: the new
/// value is equal to the old one and must not be reported).
struct Mutation {
    col: C,
    from: V,
    to: V,
    on: On,
    expect: &'static [&'static str],
}

fn m(col: C, from: V, to: V, expect: &'static [&'static str]) -> Mutation {
    Mutation {
        col,
        from,
        to,
        on: On::Either,
        expect,
    }
}

fn t(s: &str) -> V {
    V::Text(s.to_string())
}

fn ts(s: &str) -> V {
    V::Ts(s.to_string())
}

fn inst(s: &str) -> V {
    V::Instant(s.to_string())
}

fn fl(s: &'static str) -> V {
    V::Float(s)
}

/// Every logical column of the float column.
const FLOATS: &[&str] = &["c_float", "c_float10", "c_float1", "c_float17"];

fn mutations() -> Vec<Mutation> {
    vec![
        // text
        m(C::Text, t("trailing "), t("trailing"), &["c_text"]),
        m(C::Text, t(""), V::Null, &["c_text"]),
        m(C::Text, V::Null, t(""), &["c_text"]),
        m(C::Text, t("\u{e9}"), t("e\u{301}"), &["c_text"]),
        m(C::Text, t("e\u{301}"), t("\u{e9}"), &["c_text"]),
        m(C::Text, t("😀 emoji 👍🏽"), t("😀 emoji 👍"), &["c_text"]),
        m(C::Text, t("NULL"), V::Null, &["c_text"]),
        m(C::Text, t(" leading"), t("leading"), &["c_text"]),
        m(C::Text, t("a|V3:b|N"), t("a|V3:b"), &["c_text"]),
        m(C::Text, t("Zoë 日本語"), t("ZOË 日本語"), &["c_text"]),
        m(C::Text, t("   "), t("  "), &["c_text"]),
        // int
        m(C::Int, V::Int(i64::MAX), V::Int(i64::MAX - 1), &["c_int"]),
        m(C::Int, V::Int(i64::MIN), V::Int(i64::MIN + 1), &["c_int"]),
        m(
            C::Int,
            V::Int(9_007_199_254_740_993),
            V::Int(9_007_199_254_740_992),
            &["c_int"],
        ),
        m(C::Int, V::Int(0), V::Null, &["c_int"]),
        // decimal (c_dec2 rounds the same column to 2 places)
        m(C::Dec, V::Dec("123.4000"), V::Dec("123.4001"), &["c_dec"]),
        m(C::Dec, V::Dec("-0.0001"), V::Dec("0"), &["c_dec"]),
        m(
            C::Dec,
            V::Dec("99999999.9999"),
            V::Dec("99999999.9998"),
            &["c_dec"],
        ),
        m(
            C::Dec,
            V::Dec("0.0050"),
            V::Dec("0.0049"),
            &["c_dec", "c_dec2"],
        ),
        m(
            C::Dec,
            V::Dec("-9999999999999999.9999"),
            V::Dec("-9999999999999999.9998"),
            &["c_dec"],
        ),
        m(C::Dec, V::Dec("0"), V::Null, &["c_dec", "c_dec2"]),
        // bool
        m(C::Bool, V::Bool(true), V::Bool(false), &["c_bool"]),
        m(C::Bool, V::Bool(false), V::Null, &["c_bool"]),
        // date
        m(
            C::Date,
            V::Date("1969-12-31"),
            V::Date("1970-01-01"),
            &["c_date"],
        ),
        m(
            C::Date,
            V::Date("2000-02-29"),
            V::Date("2000-02-28"),
            &["c_date"],
        ),
        m(
            C::Date,
            V::Date("1900-01-01"),
            V::Date("1900-01-02"),
            &["c_date"],
        ),
        // timestamp (c_ts0 truncates the same column to seconds)
        m(
            C::Ts,
            ts("2026-01-01 00:00:00.000001"),
            ts("2026-01-01 00:00:00.000002"),
            &["c_ts"],
        ),
        m(
            C::Ts,
            ts("1969-12-31 23:59:59.5"),
            ts("1969-12-31 23:59:59.500001"),
            &["c_ts"],
        ),
        m(
            C::Ts,
            ts("2026-01-01 23:59:59.999999"),
            ts("2026-01-02 00:00:00"),
            &["c_ts", "c_ts0"],
        ),
        m(
            C::Ts,
            ts("9999-12-31 23:59:59.999999"),
            ts("9999-12-31 23:59:59.999998"),
            &["c_ts"],
        ),
        m(
            C::Ts,
            ts("1900-01-01 12:00:00"),
            ts("1900-01-01 12:00:01"),
            &["c_ts", "c_ts0"],
        ),
        // instants
        m(
            C::Tstz,
            inst("2038-01-19 03:14:07.999999"),
            inst("2038-01-19 03:14:07.999998"),
            &["c_tstz"],
        ),
        m(
            C::Tstz,
            inst("2026-03-29 00:59:59.999999"),
            inst("2026-03-29 01:00:00"),
            &["c_tstz"],
        ),
        m(
            C::Tstz,
            inst("2026-10-25 01:00:00.000001"),
            inst("2026-10-25 01:00:00"),
            &["c_tstz"],
        ),
        // uuid
        m(
            C::Uuid,
            V::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            V::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a10"),
            &["c_uuid"],
        ),
        m(
            C::Uuid,
            V::Uuid("00000000-0000-0000-0000-000000000000"),
            V::Null,
            &["c_uuid"],
        ),
        // bytes
        m(C::Bytes, V::Bytes(vec![0]), V::Bytes(vec![1]), &["c_bytes"]),
        m(C::Bytes, V::Bytes(vec![]), V::Null, &["c_bytes"]),
        m(
            C::Bytes,
            V::Bytes(vec![0xff]),
            V::Bytes(vec![0xff, 0x00]),
            &["c_bytes"],
        ),
        m(
            C::Bytes,
            V::Bytes(vec![0x20]),
            V::Bytes(vec![]),
            &["c_bytes"],
        ),
        // float: c_float (15 digits), c_float10, c_float1 and c_float17 read the same column.
        // A change in the 14th significant digit counts at 15 and 17 digits, not at 10 or 1.
        m(
            C::Float,
            fl("123456789.123456789"),
            fl("123456789.123466789"),
            &["c_float", "c_float17"],
        ),
        m(
            C::Float,
            fl("1e-300"),
            fl("1.0000000000001e-300"),
            &["c_float", "c_float17"],
        ),
        m(
            C::Float,
            fl("1.7976931348623157e308"),
            fl("1.7976931348623e308"),
            &["c_float", "c_float17"],
        ),
        // Arithmetic noise in the last bits counts only at 17 digits.
        m(
            C::Float,
            fl("0.3"),
            V::FloatSum("0.1", "0.2"),
            &["c_float17"],
        ),
        m(
            C::Float,
            fl("1000"),
            fl("999.9999999999999"),
            &["c_float17"],
        ),
        // Ties to even: 2.5 and 2.4 are both 2 at one digit, 3.5 and 4.4 both 4, and
        // 100000000000000.5 is 100000000000000 at 15 digits, 100000000000001.5 is ...02.
        m(
            C::Float,
            fl("2.5"),
            fl("2.4"),
            &["c_float", "c_float10", "c_float17"],
        ),
        m(
            C::Float,
            fl("3.5"),
            fl("4.4"),
            &["c_float", "c_float10", "c_float17"],
        ),
        m(
            C::Float,
            fl("0.25"),
            fl("0.15"),
            &["c_float", "c_float10", "c_float17"],
        ),
        m(
            C::Float,
            fl("100000000000000.5"),
            fl("100000000000000"),
            &["c_float17"],
        ),
        m(
            C::Float,
            fl("100000000000001.5"),
            fl("100000000000002"),
            &["c_float17"],
        ),
        m(
            C::Float,
            fl("0.5"),
            fl("0.6"),
            &["c_float", "c_float10", "c_float1", "c_float17"],
        ),
        m(C::Float, fl("-0.0"), fl("0"), &[]),
        m(C::Float, fl("0.1"), V::Null, FLOATS),
        m(C::Float, V::Null, fl("0"), FLOATS),
        m(C::Float, fl("4.9e-324"), fl("1e-323"), FLOATS),
        m(
            C::Float,
            fl("-1.7976931348623157e308"),
            fl("-1e308"),
            FLOATS,
        ),
        Mutation {
            col: C::Float,
            from: fl("NaN"),
            to: fl("Infinity"),
            on: On::NotMariaDb,
            expect: FLOATS,
        },
        Mutation {
            col: C::Float,
            from: fl("Infinity"),
            to: fl("-Infinity"),
            on: On::NotMariaDb,
            expect: FLOATS,
        },
        Mutation {
            col: C::Float,
            from: fl("-Infinity"),
            to: V::Null,
            on: On::NotMariaDb,
            expect: FLOATS,
        },
        // Equal values written differently: must NOT be reported.
        Mutation {
            col: C::Uuid,
            from: V::Uuid("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12"),
            to: V::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"),
            on: On::NotPostgres,
            expect: &[],
        },
        Mutation {
            col: C::Dec,
            from: V::Dec("123.4000"),
            to: V::Sql("'123.4'"),
            on: On::Sqlite,
            expect: &[],
        },
        Mutation {
            col: C::Dec,
            from: V::Dec("1"),
            to: V::Sql("'1.0000'"),
            on: On::Sqlite,
            expect: &[],
        },
        Mutation {
            col: C::Float,
            from: fl("1000"),
            to: V::Sql("'1e3'"),
            on: On::Sqlite,
            expect: &[],
        },
        Mutation {
            col: C::Float,
            from: fl("0.25"),
            to: V::Sql("'  2.5e-1 '"),
            on: On::Sqlite,
            expect: &[],
        },
        Mutation {
            col: C::Ts,
            from: ts("2000-02-29 12:34:56.123456"),
            to: V::Sql("'2000-02-29T12:34:56.123456Z'"),
            on: On::Sqlite,
            expect: &[],
        },
        Mutation {
            col: C::Tstz,
            from: inst("2026-06-15 12:00:00.000001"),
            to: V::Sql("'2026-06-15 17:30:00.000001+05:30'"),
            on: On::Sqlite,
            expect: &[],
        },
    ]
}

/// Load the edge cases into both engines; prove they compare equal, then that every single
/// change is found on its own key with exactly its column, then that restoring them makes
/// the tables equal again.
async fn conformance(ba: Backend, bb: Backend) {
    let (Some(a), Some(b)) = (Db::connect(ba).await, Db::connect(bb).await) else {
        return;
    };
    // NaN and infinities only where both engines can store them.
    let data = rows(ba != Backend::MySql && bb != Backend::MySql);
    let ta = load(&a, &data).await;
    let tb = load(&b, &data).await;
    let sides = [
        Side {
            db: &a,
            table: &ta,
            timezone: None,
        },
        Side {
            db: &b,
            table: &tb,
            timezone: None,
        },
    ];
    let columns = columns_yaml();
    let what = format!("{ba:?} vs {bb:?}");

    let run = hash_diff(&sides[0], &sides[1], &columns).await;
    assert_equal(&run, &what);
    assert_eq!(
        run.rows,
        vec![
            ("alpha".to_string(), data.len() as i64),
            ("beta".to_string(), data.len() as i64)
        ]
    );

    // Each mutation goes to the first batch that does not touch its row yet.
    let mut batches: Vec<Vec<(usize, i64, &Mutation)>> = Vec::new();
    let all = mutations();
    let mut alternate = 0usize;
    for mu in &all {
        let side = match mu.on {
            On::Either => {
                alternate += 1;
                alternate % 2
            }
            On::Sqlite => match [ba, bb].iter().position(|x| *x == Backend::Sqlite) {
                Some(i) => i,
                None => continue,
            },
            On::NotPostgres => match [ba, bb].iter().position(|x| *x != Backend::Postgres) {
                Some(i) => i,
                None => continue,
            },
            On::NotMariaDb if ba == Backend::MySql || bb == Backend::MySql => continue,
            On::NotMariaDb => {
                alternate += 1;
                alternate % 2
            }
        };
        let row = data
            .iter()
            .find(|r| r.values[mu.col.index()] == mu.from)
            .unwrap_or_else(|| panic!("no row holds {:?} in {}", mu.from, mu.col.name()));
        match batches
            .iter_mut()
            .find(|b| b.iter().all(|(_, id, _)| *id != row.id))
        {
            Some(batch) => batch.push((side, row.id, mu)),
            None => batches.push(vec![(side, row.id, mu)]),
        }
    }

    for batch in &batches {
        for (side, id, mu) in batch {
            let s = &sides[*side];
            s.db.exec(&format!(
                "UPDATE {} SET {} = {} WHERE id = {id}",
                s.table,
                mu.col.name(),
                lit(s.db.backend, *id, &mu.to)
            ))
            .await;
        }
        let run = hash_diff(&sides[0], &sides[1], &columns).await;
        assert_eq!(run.error, None, "{what}: the check failed");
        let samples = run.samples.clone().unwrap_or_default();
        let by_key: BTreeMap<i64, _> = samples
            .iter()
            .map(|s| (s.key["id"].as_i64().unwrap(), s))
            .collect();
        let mut problems = Vec::new();
        for (side, id, mu) in batch {
            let desc = format!(
                "id {id}: {} {:?} -> {:?} on {:?}",
                mu.col.name(),
                mu.from,
                mu.to,
                sides[*side].db.backend
            );
            match (by_key.get(id), mu.expect.is_empty()) {
                (None, true) => {}
                (Some(s), true) => problems.push(format!(
                    "{desc}: equal value reported as a difference: {s:?}"
                )),
                (None, false) => problems.push(format!("{desc}: change NOT detected")),
                (Some(s), false) => {
                    let mut got = s.columns.clone();
                    got.sort();
                    let mut want: Vec<String> = mu.expect.iter().map(|c| c.to_string()).collect();
                    want.sort();
                    if s.kind != "changed" || got != want {
                        problems.push(format!(
                            "{desc}: expected changed {want:?}, got {} {got:?} ({:?})",
                            s.kind, s.values
                        ));
                    }
                }
            }
        }
        for (id, s) in &by_key {
            if !batch.iter().any(|(_, bid, _)| bid == id) {
                problems.push(format!("id {id}: reported but not mutated: {s:?}"));
            }
        }
        let detected = batch.iter().filter(|(_, _, mu)| !mu.expect.is_empty());
        let d = run.differences.as_ref().unwrap();
        if d.changed != detected.count() as u64 || d.missing.iter().any(|(_, n)| *n != 0) {
            problems.push(format!("differences {d:?}"));
        }
        assert!(
            problems.is_empty(),
            "{what}: single-value changes:\n  {}",
            problems.join("\n  ")
        );
        // Restore.
        for (side, id, mu) in batch {
            let s = &sides[*side];
            let original = &data.iter().find(|r| r.id == *id).unwrap().values[mu.col.index()];
            s.db.exec(&format!(
                "UPDATE {} SET {} = {} WHERE id = {id}",
                s.table,
                mu.col.name(),
                lit(s.db.backend, *id, original)
            ))
            .await;
        }
    }

    eprintln!(
        "{what}: {} single-value changes checked in {} runs",
        batches.iter().map(Vec::len).sum::<usize>(),
        batches.len()
    );
    let run = hash_diff(&sides[0], &sides[1], &columns).await;
    assert_equal(&run, &format!("{what}, after restoring every change"));
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

stamp_tests! {
    conformance;
    postgres_vs_mariadb: Backend::Postgres, Backend::MySql;
    postgres_vs_sqlite: Backend::Postgres, Backend::Sqlite;
    mariadb_vs_sqlite: Backend::MySql, Backend::Sqlite;
}

// ---------------------------------------------------------------------------------------
// Time zones: zone-less wall times in Europe/Berlin against instants.

/// (Berlin wall time, the same instant in UTC). The repeated and the skipped hour are not
/// here: see `berlin_overlap_and_gap_*`.
const BERLIN: &[(Option<&str>, Option<&str>)] = &[
    (
        Some("2026-01-15 12:00:00.000001"),
        Some("2026-01-15 11:00:00.000001"),
    ),
    (Some("2026-07-01 12:00:00"), Some("2026-07-01 10:00:00")),
    // Spring forward, 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC).
    (Some("2026-03-28 23:30:00"), Some("2026-03-28 22:30:00")),
    (
        Some("2026-03-29 01:59:59.999999"),
        Some("2026-03-29 00:59:59.999999"),
    ),
    (Some("2026-03-29 03:00:00"), Some("2026-03-29 01:00:00")),
    (Some("2026-03-29 12:00:00"), Some("2026-03-29 10:00:00")),
    // Fall back, 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC).
    (
        Some("2026-10-25 01:59:59.999999"),
        Some("2026-10-24 23:59:59.999999"),
    ),
    (Some("2026-10-25 03:00:00"), Some("2026-10-25 02:00:00")),
    (Some("2026-10-25 12:00:00"), Some("2026-10-25 11:00:00")),
    // Outside the range of a 32-bit TIMESTAMP.
    (Some("1969-12-31 23:59:59.5"), Some("1969-12-31 22:59:59.5")),
    (Some("1970-01-01 00:30:00"), Some("1969-12-31 23:30:00")),
    (Some("1900-01-01 00:00:00"), Some("1899-12-31 23:00:00")),
    (Some("2040-07-01 12:00:00"), Some("2040-07-01 10:00:00")),
    (Some("2000-02-29 00:00:00"), Some("2000-02-28 23:00:00")),
    (None, None),
];

/// The repeated and the skipped hour, with the rule `compare::normalize` documents (and
/// PostgreSQL follows): an ambiguous wall time is the later instant (standard time); a wall
/// time in the gap is read with the offset in force before it.
const BERLIN_OVERLAP_AND_GAP: &[(Option<&str>, Option<&str>)] = &[
    (Some("2026-10-25 02:00:00"), Some("2026-10-25 01:00:00")),
    (Some("2026-10-25 02:30:00"), Some("2026-10-25 01:30:00")),
    (
        Some("2026-10-25 02:59:59.999999"),
        Some("2026-10-25 01:59:59.999999"),
    ),
    (Some("2026-03-29 02:00:00"), Some("2026-03-29 01:00:00")),
    (Some("2026-03-29 02:30:00"), Some("2026-03-29 01:30:00")),
];

const TS_COLUMN: &str =
    "    columns:\n      at: {alpha: wall, beta: instant, type: \"timestamp(6)\"}\n";

/// A table of wall times (`wall`) and, on PostgreSQL, the same instants (`instant`,
/// TIMESTAMPTZ) beside them.
async fn load_wall(db: &Db, cases: &[(Option<&str>, Option<&str>)]) -> String {
    let t = unique("conf_tz");
    let ddl = match db.backend {
        Backend::Postgres => "id BIGINT PRIMARY KEY, wall TIMESTAMP(6), instant TIMESTAMPTZ",
        Backend::MySql => "id BIGINT PRIMARY KEY, wall DATETIME(6) NULL",
        Backend::Sqlite => "id INTEGER PRIMARY KEY, wall TEXT",
    };
    db.exec(&format!("CREATE TABLE {t} ({ddl})")).await;
    let q = |v: Option<&str>| v.map_or("NULL".to_string(), quote);
    let values: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (wall, utc))| match db.backend {
            Backend::Postgres => format!(
                "({i}, {}, {})",
                q(*wall),
                q(utc.map(|u| format!("{u}+00")).as_deref())
            ),
            _ => format!("({i}, {})", q(*wall)),
        })
        .collect();
    db.exec(&format!("INSERT INTO {t} VALUES {}", values.join(", ")))
        .await;
    t
}

/// MariaDB reads local wall times with the agent's zone rules, with or without its own time
/// zone tables; a wall time beyond the years those rules cover fails the check instead of
/// being compared as something else.
#[tokio::test]
async fn mariadb_wall_time_beyond_the_zone_rules_is_an_error() {
    let (Some(my), Some(pg)) = (
        Db::connect(Backend::MySql).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let cases = [(Some("2150-07-01 12:00:00"), Some("2150-07-01 10:00:00"))];
    let (run, tw, tp) = berlin_run(&my, &pg, &cases).await;
    assert_eq!(run.status, Status::Error, "{:?}", run.samples);
    let e = run.error.unwrap_or_default();
    assert!(
        e.contains("cannot convert") && e.contains("Europe/Berlin"),
        "{e}"
    );
    my.drop_table(&tw).await;
    pg.drop_table(&tp).await;
}

/// Loads `cases` as Berlin wall times on `w` and instants on `pg`, and compares them; returns
/// the run and the two tables.
async fn berlin_run(
    w: &Db,
    pg: &Db,
    cases: &[(Option<&str>, Option<&str>)],
) -> (Seen, String, String) {
    let tw = load_wall(w, cases).await;
    let tp = load_wall(pg, cases).await;
    let run = berlin_compare(w, &tw, pg, &tp).await;
    (run, tw, tp)
}

/// Berlin wall times in `tw` on `w` against the instants in `tp` on PostgreSQL.
async fn berlin_compare(w: &Db, tw: &str, pg: &Db, tp: &str) -> Seen {
    let wall = Side {
        db: w,
        table: tw,
        timezone: Some("Europe/Berlin"),
    };
    let instant = Side {
        db: pg,
        table: tp,
        timezone: None,
    };
    hash_diff(&wall, &instant, TS_COLUMN).await
}

/// Berlin wall times on `wall_backend` against PostgreSQL TIMESTAMPTZ instants: equal, and a
/// one-microsecond change across the spring gap is found.
async fn berlin_vs_instants(wall_backend: Backend, cases: &[(Option<&str>, Option<&str>)]) {
    let (Some(w), Some(pg)) = (
        Db::connect(wall_backend).await,
        Db::connect(Backend::Postgres).await,
    ) else {
        return;
    };
    let what = format!("{wall_backend:?} Berlin wall time vs PostgreSQL TIMESTAMPTZ");
    let (run, tw, tp) = berlin_run(&w, &pg, cases).await;
    assert_equal(&run, &what);
    {
        // 01:59:59.999999 CET -> 03:00:00 CEST is one microsecond later.
        if let Some(i) = cases
            .iter()
            .position(|(wall, _)| *wall == Some("2026-03-29 01:59:59.999999"))
        {
            w.exec(&format!(
                "UPDATE {tw} SET wall = '2026-03-29 03:00:00' WHERE id = {i}"
            ))
            .await;
            let run = berlin_compare(&w, &tw, &pg, &tp).await;
            assert_eq!(run.error, None, "{what}");
            let samples = run.samples.unwrap_or_default();
            assert_eq!(samples.len(), 1, "{what}: {samples:#?}");
            assert_eq!(samples[0].key["id"], i as i64);
            assert_eq!(samples[0].columns, vec!["at".to_string()]);
        }
    }
    w.drop_table(&tw).await;
    pg.drop_table(&tp).await;
}

stamp_tests! {
    berlin_vs_instants;
    berlin_wall_time_postgres_vs_postgres_timestamptz: Backend::Postgres, BERLIN;
    berlin_wall_time_sqlite_vs_postgres_timestamptz: Backend::Sqlite, BERLIN;
    berlin_wall_time_mariadb_vs_postgres_timestamptz: Backend::MySql, BERLIN;
    berlin_overlap_and_gap_postgres: Backend::Postgres, BERLIN_OVERLAP_AND_GAP;
    berlin_overlap_and_gap_sqlite: Backend::Sqlite, BERLIN_OVERLAP_AND_GAP;
    berlin_overlap_and_gap_mariadb: Backend::MySql, BERLIN_OVERLAP_AND_GAP;
}

/// Zoned columns (PostgreSQL TIMESTAMPTZ, MariaDB TIMESTAMP, SQLite text with an offset)
/// hold instants: the system's `timezone` must not shift them.
#[tokio::test]
async fn berlin_system_zoned_columns_are_not_shifted() {
    let (Some(pg), Some(my), Some(lite)) = (
        Db::connect(Backend::Postgres).await,
        Db::connect(Backend::MySql).await,
        Db::connect(Backend::Sqlite).await,
    ) else {
        return;
    };
    let cases = instants();
    let mut tables = Vec::new();
    for db in [&pg, &my, &lite] {
        let t = unique("conf_zoned");
        let ddl = match db.backend {
            Backend::Postgres => "TIMESTAMPTZ",
            Backend::MySql => "TIMESTAMP(6) NULL DEFAULT NULL",
            Backend::Sqlite => "TEXT",
        };
        db.exec(&format!(
            "CREATE TABLE {t} (id BIGINT PRIMARY KEY, instant {ddl})"
        ))
        .await;
        let rows: Vec<String> = cases
            .iter()
            .enumerate()
            .map(|(i, v)| format!("({i}, {})", lit(db.backend, i as i64, v)))
            .collect();
        db.exec(&format!(
            "INSERT INTO {t} (id, instant) VALUES {}",
            rows.join(", ")
        ))
        .await;
        tables.push(t);
    }
    let columns =
        "    columns:\n      at: {alpha: instant, beta: instant, type: \"timestamp(6)\"}\n";
    let side = |i: usize, timezone| Side {
        db: [&pg, &my, &lite][i],
        table: &tables[i],
        timezone,
    };
    let berlin = Some("Europe/Berlin");
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        for (za, zb) in [(berlin, berlin), (berlin, None), (None, berlin)] {
            let run = hash_diff(&side(a, za), &side(b, zb), columns).await;
            assert_equal(
                &run,
                &format!(
                    "zoned {:?} ({za:?}) vs {:?} ({zb:?})",
                    side(a, za).db.backend,
                    side(b, zb).db.backend
                ),
            );
        }
    }
    for (i, db) in [&pg, &my, &lite].into_iter().enumerate() {
        db.drop_table(&tables[i]).await;
    }
}

/// Both sides MariaDB DATETIME read in Berlin: a changed wall time must be found, or the
/// check must error; never `ok` while blind.
#[tokio::test]

async fn berlin_wall_time_mariadb_vs_mariadb_detects_change() {
    let Some(db) = Db::connect(Backend::MySql).await else {
        return;
    };
    let ta = load_wall(&db, BERLIN).await;
    let tb = load_wall(&db, BERLIN).await;
    db.exec(&format!(
        "UPDATE {tb} SET wall = '2026-07-01 12:00:00.000001' WHERE id = 1"
    ))
    .await;
    let side = |table| Side {
        db: &db,
        table,
        timezone: Some("Europe/Berlin"),
    };
    let columns = "    columns:\n      at: {alpha: wall, beta: wall, type: \"timestamp(6)\"}\n";
    let run = hash_diff(&side(&ta), &side(&tb), columns).await;
    let what = "MariaDB Berlin vs MariaDB Berlin";
    {
        assert_eq!(run.error, None, "{what}");
        let samples = run.samples.unwrap_or_default();
        assert_eq!(samples.len(), 1, "{what}: {samples:#?}");
        assert_eq!(samples[0].key["id"], 1);
        assert_eq!(samples[0].columns, vec!["at".to_string()]);
    }
    db.drop_table(&ta).await;
    db.drop_table(&tb).await;
}

// ---------------------------------------------------------------------------------------
// Legacy spellings of the same logical value in other native types: every engine must read
// them to the same canonical form, or say it cannot.

/// A table `(id, v)` with `v` of the native type `ddl`, holding `values` (literals) as ids
/// 0, 1, ...
async fn single(db: &Db, ddl: &str, values: &[String]) -> String {
    let t = unique("conf_v");
    let id = if db.backend == Backend::Sqlite {
        "INTEGER"
    } else {
        "BIGINT"
    };
    db.exec(&format!("CREATE TABLE {t} (id {id} PRIMARY KEY, v {ddl})"))
        .await;
    let rows: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("({i}, {v})"))
        .collect();
    db.exec(&format!(
        "INSERT INTO {t} (id, v) VALUES {}",
        rows.join(", ")
    ))
    .await;
    t
}

fn v_column(ty: &str) -> String {
    format!("    columns:\n      v: {{alpha: v, beta: v, type: \"{ty}\"}}\n")
}

/// `ddl`/`values` on `backend` against the same logical values on `other`, as `ty`.
async fn spelled(
    backend: Backend,
    ddl: &str,
    values: &[&str],
    other: Backend,
    other_ddl: &str,
    other_values: &[&str],
    ty: &str,
) {
    let (Some(a), Some(b)) = (Db::connect(backend).await, Db::connect(other).await) else {
        return;
    };
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let ta = single(&a, ddl, &owned(values)).await;
    let tb = single(&b, other_ddl, &owned(other_values)).await;
    let run = hash_diff(
        &Side {
            db: &a,
            table: &ta,
            timezone: None,
        },
        &Side {
            db: &b,
            table: &tb,
            timezone: None,
        },
        &v_column(ty),
    )
    .await;
    assert_equal(
        &run,
        &format!("{backend:?} {ddl} vs {other:?} {other_ddl} as {ty}"),
    );
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

const UUIDS_CANONICAL: &[&str] = &[
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
    "'0123abcd-0000-ffff-1234-56789abcdef0'",
    "NULL",
];
const UUIDS_NO_HYPHENS: &[&str] = &[
    "'A0EEBC999C0B4EF8BB6D6BB9BD380A11'",
    "'0123abcd0000ffff123456789abcdef0'",
    "NULL",
];

#[tokio::test]

async fn uuid_without_hyphens_mariadb_char_vs_postgres_uuid() {
    spelled(
        Backend::MySql,
        "CHAR(32) NULL",
        UUIDS_NO_HYPHENS,
        Backend::Postgres,
        "UUID",
        UUIDS_CANONICAL,
        "uuid",
    )
    .await;
}

#[tokio::test]

async fn uuid_without_hyphens_postgres_text_vs_postgres_uuid() {
    spelled(
        Backend::Postgres,
        "TEXT",
        UUIDS_NO_HYPHENS,
        Backend::Postgres,
        "UUID",
        UUIDS_CANONICAL,
        "uuid",
    )
    .await;
}

#[tokio::test]
async fn uuid_without_hyphens_sqlite_vs_postgres_uuid() {
    spelled(
        Backend::Sqlite,
        "TEXT",
        UUIDS_NO_HYPHENS,
        Backend::Postgres,
        "UUID",
        UUIDS_CANONICAL,
        "uuid",
    )
    .await;
}

#[tokio::test]

async fn uuid_binary16_mariadb_vs_postgres_uuid() {
    spelled(
        Backend::MySql,
        "BINARY(16) NULL",
        &[
            "X'a0eebc999c0b4ef8bb6d6bb9bd380a11'",
            "X'0123abcd0000ffff123456789abcdef0'",
            "NULL",
        ],
        Backend::Postgres,
        "UUID",
        UUIDS_CANONICAL,
        "uuid",
    )
    .await;
}

#[tokio::test]
async fn uuid_blob16_sqlite_vs_postgres_uuid() {
    spelled(
        Backend::Sqlite,
        "BLOB",
        &[
            "X'a0eebc999c0b4ef8bb6d6bb9bd380a11'",
            "X'0123abcd0000ffff123456789abcdef0'",
            "NULL",
        ],
        Backend::Postgres,
        "UUID",
        UUIDS_CANONICAL,
        "uuid",
    )
    .await;
}

/// MySQL schemas (and ORMs such as Hibernate) often keep flags in BIT(1).
#[tokio::test]

async fn bool_bit1_mariadb_vs_postgres_boolean() {
    spelled(
        Backend::MySql,
        "BIT(1) NULL",
        &["b'1'", "b'0'", "NULL"],
        Backend::Postgres,
        "BOOLEAN",
        &["TRUE", "FALSE", "NULL"],
        "bool",
    )
    .await;
}

#[tokio::test]
async fn text_latin1_mariadb_vs_postgres() {
    spelled(
        Backend::MySql,
        "VARCHAR(50) CHARACTER SET latin1 NULL",
        &["'Zoë'", "'façade '", "''", "'€'", "NULL"],
        Backend::Postgres,
        "TEXT",
        &["'Zoë'", "'façade '", "''", "'€'", "NULL"],
        "text",
    )
    .await;
}

/// Decimals kept in a legacy DECIMAL against doubles computed by arithmetic.
#[tokio::test]
async fn float_decimal_mariadb_vs_postgres_double() {
    spelled(
        Backend::MySql,
        "DECIMAL(30,15) NULL",
        &["0.3", "1000", "-2.5", "0", "123456789.123457", "NULL"],
        Backend::Postgres,
        "DOUBLE PRECISION",
        &[
            "CAST(0.1 AS DOUBLE PRECISION) + CAST(0.2 AS DOUBLE PRECISION)",
            "999.9999999999999",
            "-2.5",
            "CAST('-0' AS DOUBLE PRECISION)",
            "123456789.123456789",
            "NULL",
        ],
        "float",
    )
    .await;
}

/// NaN and the infinities as text (SQLite) against PostgreSQL's doubles.
#[tokio::test]
async fn float_special_values_sqlite_text_vs_postgres_double() {
    spelled(
        Backend::Sqlite,
        "TEXT",
        &["'NaN'", "'inf'", "'-Infinity'", "' 1e3 '", "NULL"],
        Backend::Postgres,
        "DOUBLE PRECISION",
        &["'NaN'", "'Infinity'", "'-Infinity'", "1000", "NULL"],
        "float(17)",
    )
    .await;
}

/// A value an engine cannot read as the declared type must make the check error (as SQLite
/// does), never be hashed as NULL or as some other value: here the other side holds exactly
/// what the unreadable value would silently become.
async fn unreadable(backend: Backend, ddl: &str, cases: &[(&str, &str, &str)]) {
    let Some(db) = Db::connect(backend).await else {
        return;
    };
    let mut problems = Vec::new();
    for (bad, lookalike, ty) in cases {
        let ta = single(&db, ddl, &[bad.to_string()]).await;
        let tb = single(&db, ddl, &[lookalike.to_string()]).await;
        let side = |table| Side {
            db: &db,
            table,
            timezone: None,
        };
        let run = hash_diff(&side(&ta), &side(&tb), &v_column(ty)).await;
        if run.status != Status::Error {
            problems.push(format!(
                "{backend:?} {ddl} {bad} as {ty}: expected an error, got {:?} with {:?} (other side {lookalike})",
                run.status, run.differences
            ));
        }
        db.drop_table(&ta).await;
        db.drop_table(&tb).await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Text that is not what it is compared as, and what an engine would silently make of it.
const UNREADABLE: &[(&str, &str, &str)] = &[
    ("'maybe'", "NULL", "bool"),
    ("'2026-02-30'", "NULL", "date"),
    ("'n/a'", "'0'", "decimal(2)"),
    ("'12abc'", "'12'", "int"),
];

stamp_tests! {
    unreadable;
    unreadable_value_is_an_error_postgres: Backend::Postgres, "TEXT", UNREADABLE;
    unreadable_value_is_an_error_mariadb: Backend::MySql, "VARCHAR(20) NULL", UNREADABLE;
    unreadable_value_is_an_error_sqlite: Backend::Sqlite, "TEXT", UNREADABLE;
}

// ---------------------------------------------------------------------------------------
// Keys of every supported type, with enough rows for several segments (2000 rows each), so
// that range bounds and key order must agree between engines.

#[derive(Clone, Copy, Debug)]
enum KeyKind {
    Text,
    Date,
    /// MariaDB CHAR(36) in upper case, SQLite TEXT in upper case, PostgreSQL UUID.
    Uuid,
}

const KEY_ROWS: usize = 5000;

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The keys, as their canonical text.
fn keys(kind: KeyKind) -> Vec<String> {
    match kind {
        KeyKind::Text => {
            // No two keys equal under a case- or pad-insensitive collation (MariaDB's default
            // would reject them as duplicates).
            let mut k: Vec<String> = [
                "",
                "a",
                "a b",
                "trailing ",
                "Zoë",
                "e\u{301}",
                "😀",
                "日本",
                "a|b",
                "NULL",
                "Ω",
                "~",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            for i in 0..KEY_ROWS - k.len() {
                let prefix = ["k", "Ä", "ü", "Z", "z9", "é", "文"][i % 7];
                k.push(format!("{prefix}{:x}", splitmix(i as u64) % 1_000_000_007));
            }
            k
        }
        KeyKind::Date => {
            let start = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap();
            (0..KEY_ROWS)
                .map(|i| (start + chrono::Duration::days(3 * i as i64)).to_string())
                .collect()
        }
        KeyKind::Uuid => (0..KEY_ROWS as u64)
            .map(|i| {
                let h = format!("{:016x}{:016x}", splitmix(i), splitmix(i + 1_000_000));
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..]
                )
            })
            .collect(),
    }
}

async fn load_keys(db: &Db, kind: KeyKind, keys: &[String]) -> String {
    let t = unique("conf_k");
    let key_ddl = match (kind, db.backend) {
        (KeyKind::Text, Backend::Postgres) => "TEXT",
        (KeyKind::Text, Backend::MySql) => "VARCHAR(100) CHARACTER SET utf8mb4",
        (KeyKind::Date, Backend::Postgres | Backend::MySql) => "DATE",
        (KeyKind::Uuid, Backend::Postgres) => "UUID",
        (KeyKind::Uuid, Backend::MySql) => "CHAR(36)",
        (_, Backend::Sqlite) => "TEXT",
    };
    let int = if db.backend == Backend::Sqlite {
        "INTEGER"
    } else {
        "BIGINT"
    };
    db.exec(&format!(
        "CREATE TABLE {t} (k {key_ddl} PRIMARY KEY, v {int})"
    ))
    .await;
    for (n, chunk) in keys.chunks(500).enumerate() {
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let k = match (kind, db.backend) {
                    (KeyKind::Uuid, Backend::MySql | Backend::Sqlite) => k.to_ascii_uppercase(),
                    _ => k.clone(),
                };
                format!("({}, {})", quote(&k), n * 500 + i)
            })
            .collect();
        db.exec(&format!(
            "INSERT INTO {t} (k, v) VALUES {}",
            rows.join(", ")
        ))
        .await;
    }
    t
}

/// Equal on keys of `kind`; then one row deleted on alpha and one value changed on beta
/// are found as exactly that.
async fn keyed(kind: KeyKind, ba: Backend, bb: Backend) {
    let (Some(a), Some(b)) = (Db::connect(ba).await, Db::connect(bb).await) else {
        return;
    };
    let ks = keys(kind);
    let ta = load_keys(&a, kind, &ks).await;
    let tb = load_keys(&b, kind, &ks).await;
    let what = format!("{kind:?} keys, {ba:?} vs {bb:?}");
    let sa = Side {
        db: &a,
        table: &ta,
        timezone: None,
    };
    let sb = Side {
        db: &b,
        table: &tb,
        timezone: None,
    };
    // PostgreSQL's UUID against MariaDB's CHAR(36): only a declared key type can say they
    // are the same thing.
    let uuid_vs_text = matches!(kind, KeyKind::Uuid)
        && [ba, bb].contains(&Backend::Postgres)
        && [ba, bb].contains(&Backend::MySql);
    let yaml = if uuid_vs_text {
        "    key_types: [uuid]\n    columns:\n      v: {alpha: v, beta: v, type: int}\n"
    } else {
        "    columns:\n      v: {alpha: v, beta: v, type: int}\n"
    };
    let run = hash_diff_by(&sa, &sb, "k", yaml).await;
    assert_equal(&run, &what);

    // Delete a key from alpha and change the value of another on beta.
    let spelled = |db: &Db, k: &str| match (kind, db.backend) {
        (KeyKind::Uuid, Backend::MySql | Backend::Sqlite) => quote(&k.to_ascii_uppercase()),
        _ => quote(k),
    };
    let (gone, changed) = (&ks[3], &ks[KEY_ROWS - 7]);
    a.exec(&format!("DELETE FROM {ta} WHERE k = {}", spelled(&a, gone)))
        .await;
    b.exec(&format!(
        "UPDATE {tb} SET v = -1 WHERE k = {}",
        spelled(&b, changed)
    ))
    .await;
    let run = hash_diff_by(&sa, &sb, "k", yaml).await;
    assert_eq!(run.error, None, "{what}");
    let samples = run.samples.clone().unwrap_or_default();
    let got: Vec<(String, String)> = samples
        .iter()
        .map(|s| {
            (
                s.key["k"].as_str().unwrap_or("?").to_string(),
                s.kind.clone(),
            )
        })
        .collect();
    // Against PostgreSQL's UUID the key compares as a uuid (reported in canonical lower
    // case); between two engines that both store text it is text, reported as stored.
    let shown = |k: &String| match kind {
        KeyKind::Uuid if ba != Backend::Postgres && bb != Backend::Postgres => {
            k.to_ascii_uppercase()
        }
        _ => k.clone(),
    };
    let mut want = vec![
        (shown(gone), "missing_in_alpha".to_string()),
        (shown(changed), "changed".to_string()),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort();
    want.sort();
    assert_eq!(got_sorted, want, "{what}: {samples:#?}");
    a.drop_table(&ta).await;
    b.drop_table(&tb).await;
}

stamp_tests! {
    keyed;
    text_keys_postgres_vs_mariadb: KeyKind::Text, Backend::Postgres, Backend::MySql;
    text_keys_postgres_vs_sqlite: KeyKind::Text, Backend::Postgres, Backend::Sqlite;
    text_keys_mariadb_vs_sqlite: KeyKind::Text, Backend::MySql, Backend::Sqlite;
    date_keys_postgres_vs_mariadb: KeyKind::Date, Backend::Postgres, Backend::MySql;
    date_keys_postgres_vs_sqlite: KeyKind::Date, Backend::Postgres, Backend::Sqlite;
    date_keys_mariadb_vs_sqlite: KeyKind::Date, Backend::MySql, Backend::Sqlite;
    uuid_keys_upper_case_postgres_vs_mariadb: KeyKind::Uuid, Backend::Postgres, Backend::MySql;
    uuid_keys_upper_case_postgres_vs_sqlite: KeyKind::Uuid, Backend::Postgres, Backend::Sqlite;
    uuid_keys_upper_case_mariadb_vs_sqlite: KeyKind::Uuid, Backend::MySql, Backend::Sqlite;
}
