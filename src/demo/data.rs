//! The demo's data: creates the two SQLite databases that `driftwatch demo` watches, and states
//! exactly which drift was injected into them ([`INJECTED`]).
//!
//! * `legacy.db` is an old billing/clinic system: uppercase tables `PATIENT` and `APPT`, money
//!   in integer cents, flags as `'Y'`/`'N'`, status codes `'S'`/`'D'`/`'C'`, and timestamps as
//!   zone-less local time of [`LEGACY_TIMEZONE`] (`'YYYY-MM-DD HH:MM:SS'`).
//! * `modern.db` is its replacement: snake_case tables `patients` and `appointments`, money as
//!   decimal text with 2 places (`'123.40'`), booleans as 0/1, status words and UTC ISO-8601
//!   timestamps with microseconds (`'YYYY-MM-DDTHH:MM:SS.ffffffZ'`).
//!
//! Apart from the injected drift, a row is equal on both sides once mapped (local time <-> UTC,
//! cents <-> decimal, `'Y'`/`'N'` <-> 1/0, status codes <-> words). `patients.updated_at` carries
//! a fraction of a second below one half that the legacy `UPD_TS` does not have, so it compares
//! equal at `timestamp(0)` whether the fraction is truncated or rounded. No legacy local time
//! falls into the repeated hour of the autumn clock change, so every one reads back unambiguously.
//!
//! The data is deterministic (fixed seed); only its timestamps move with the time of creation,
//! so that the sync lag looks current.

use std::path::{Path, PathBuf};

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::Berlin;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, SqliteConnection};

/// Paths of the two databases created by [`create_databases`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoDatabases {
    pub legacy: PathBuf,
    pub modern: PathBuf,
}

/// The zone in which the legacy system stores its zone-less timestamps.
pub const LEGACY_TIMEZONE: &str = "Europe/Berlin";

/// What was injected into the demo databases, so that the README and the tests can state the
/// expected findings. Every count is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    /// Rows in legacy `PATIENT`.
    pub legacy_patients: u64,
    /// Rows in modern `patients`.
    pub modern_patients: u64,
    /// Rows in legacy `APPT`, and equally in modern `appointments`.
    pub appointments: u64,
    /// The newest patients, created in modern within the last ~2 minutes and not yet synced.
    pub patients_missing_in_legacy: u64,
    /// Patients deleted in modern whose deletion never reached legacy (all inactive).
    pub patients_missing_in_modern: u64,
    /// Patients whose insurance carrier differs (some of them NULL on one side only).
    pub changed_insurance: u64,
    /// Patients whose balance differs by a few cents.
    pub changed_balance: u64,
    /// Patients active in legacy but inactive in modern.
    pub changed_active: u64,
    /// Patients present on both sides that differ in some column: the sum of the three above
    /// (each changed patient differs in exactly one column).
    pub patients_changed: u64,
    /// Active patients in modern minus active patients in legacy.
    pub active_patients_difference: u64,
    /// Legacy appointments whose `PAT_ID` is a patient that exists neither in legacy nor in
    /// modern (deleted without cascade in both).
    pub appointments_orphaned_in_legacy: u64,
    /// Appointments that differ between the systems: the orphans above, whose modern
    /// `patient_id` points at an existing patient. No other appointment differs.
    pub appointments_changed: u64,
    /// Newest modern `updated_at` minus newest legacy `UPD_TS`, in whole seconds, at creation
    /// (only if the demo is created within ~2 hours after the autumn clock change can it be
    /// up to 2 hours more).
    pub lag_seconds: u64,
}

/// What [`create_databases`] injects.
pub const INJECTED: Injected = Injected {
    legacy_patients: OLD_PATIENT_IDS - DELETED_IN_BOTH as u64,
    modern_patients: OLD_PATIENT_IDS - DELETED_IN_BOTH as u64 - 3 + 25,
    appointments: 8000,
    patients_missing_in_legacy: 25,
    patients_missing_in_modern: 3,
    changed_insurance: 40,
    changed_balance: 7,
    changed_active: 5,
    patients_changed: 40 + 7 + 5,
    active_patients_difference: 25 - 5,
    appointments_orphaned_in_legacy: 12,
    appointments_changed: 12,
    lag_seconds: NEWEST_SYNCED_SECONDS_AGO - NEWEST_UNSYNCED_SECONDS_AGO,
};

const _: () = {
    assert!(
        INJECTED.patients_changed
            == INJECTED.changed_insurance + INJECTED.changed_balance + INJECTED.changed_active
    );
    assert!(
        INJECTED.active_patients_difference
            == INJECTED.patients_missing_in_legacy - INJECTED.changed_active
    );
    assert!(
        INJECTED.modern_patients + INJECTED.patients_missing_in_modern
            == INJECTED.legacy_patients + INJECTED.patients_missing_in_legacy
    );
    assert!(INJECTED.appointments_changed == INJECTED.appointments_orphaned_in_legacy);
};

const SEED: u64 = 0x00D7_1F7A_7C4D_E302;
/// Patient ids 1..=OLD_PATIENT_IDS existed before the newest, unsynced ones.
const OLD_PATIENT_IDS: u64 = 3000;
/// Old ids deleted in both systems; the orphaned legacy appointments point at them.
const DELETED_IN_BOTH: usize = 8;
/// The last update that reached legacy happened this long before "now".
const NEWEST_SYNCED_SECONDS_AGO: u64 = 240;
/// The newest unsynced patient was written to modern this long before "now".
const NEWEST_UNSYNCED_SECONDS_AGO: u64 = 5;
/// Unsynced patients are this many seconds apart.
const UNSYNCED_SPACING_SECONDS: u64 = 4;
/// Updates of synced patients are spread over this many days.
const UPDATE_SPREAD_DAYS: i64 = 90;

const CARRIERS: &[&str] = &[
    "Acme Health",
    "Globex Care",
    "Initech Mutual",
    "Umbrella Insurance",
    "Stark Assurance",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner",
    "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann",
    "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller",
    "Weiß", "Jung", "Hahn", "Vogel", "Friedrich", "Keller", "Günther", "Frank", "Berger", "Winkler",
    "Roth", "Beck", "Groß", "Yılmaz", "Kaya", "Özdemir", "Nowak", "Kowalski", "Rossi", "Nguyen",
    "Garcia", "Ivanova", "Smith", "O'Brien", "van der Berg",
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Anna", "Maria", "Emma", "Sophie", "Lena", "Hannah", "Lea", "Mia", "Laura", "Julia", "Sarah",
    "Katharina", "Ursula", "Monika", "Petra", "Sabine", "Renate", "Helga", "Ingrid", "Elif",
    "Zeynep", "Agnieszka", "Olga", "Chloé", "Giulia", "Jürgen", "Klaus", "Thomas", "Michael",
    "Andreas", "Stefan", "Peter", "Wolfgang", "Frank", "Uwe", "Markus", "Lukas", "Jonas", "Leon",
    "Felix", "Paul", "Maximilian", "Noah", "Elias", "Ben", "Finn", "Mehmet", "Ahmet", "Piotr",
    "Ivan", "José", "Hans-Peter", "Jörg", "Björn", "Sören", "Dieter", "Gerhard", "Manfred", "Karl",
    "Heinz",
];

/// Fees of appointments that are not cancelled, in cents.
const FEES_CENTS: &[i64] = &[2500, 4000, 4590, 6500, 8990, 12000, 15050, 23000];

/// Creates (overwriting) legacy.db and modern.db in `dir`. Deterministic: a fixed seed
/// (`fastrand::Rng::with_seed`).
///
/// Timestamps are laid out backwards from the current time (truncated to the second), so the
/// newest modern patients are seconds old and the sync lag looks current.
pub async fn create_databases(dir: &Path) -> Result<DemoDatabases, sqlx::Error> {
    create_databases_at(dir, Utc::now()).await
}

/// [`create_databases`] as if the current time were `now`.
pub async fn create_databases_at(
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<DemoDatabases, sqlx::Error> {
    let now = DateTime::from_timestamp(now.timestamp(), 0).expect("a whole second is in range");
    std::fs::create_dir_all(dir)?;
    let data = generate(now);
    let dbs = DemoDatabases {
        legacy: dir.join("legacy.db"),
        modern: dir.join("modern.db"),
    };
    // Each connection runs on its own worker thread: write both at once.
    tokio::try_join!(
        write_legacy(&dbs.legacy, &data),
        write_modern(&dbs.modern, &data)
    )?;
    Ok(dbs)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Scheduled,
    Done,
    Cancelled,
}

impl Status {
    fn legacy_code(self) -> &'static str {
        match self {
            Status::Scheduled => "S",
            Status::Done => "D",
            Status::Cancelled => "C",
        }
    }

    fn modern_name(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone)]
struct Patient {
    id: i64,
    last_name: &'static str,
    first_name: Option<&'static str>,
    birth_date: Option<NaiveDate>,
    insurer: Option<&'static str>,
    balance_cents: i64,
    active: bool,
    /// At modern precision (microseconds); legacy keeps whole seconds of local time.
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct Appointment {
    id: i64,
    patient_id: i64,
    starts_at: DateTime<Utc>,
    status: Status,
    fee_cents: Option<i64>,
}

struct Dataset {
    legacy_patients: Vec<Patient>,
    modern_patients: Vec<Patient>,
    legacy_appointments: Vec<Appointment>,
    modern_appointments: Vec<Appointment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Synced,
    DeletedInBoth,
    LegacyOnly,
    ChangedInsurance(usize),
    ChangedBalance,
    ChangedActive,
    NewestSynced,
}

fn generate(now: DateTime<Utc>) -> Dataset {
    let mut rng = fastrand::Rng::with_seed(SEED);

    // Which old patient plays which part.
    let mut roles = vec![Role::Synced; OLD_PATIENT_IDS as usize + 1]; // index = id; 0 unused
    let mut ids: Vec<i64> = (1..=OLD_PATIENT_IDS as i64).collect();
    rng.shuffle(&mut ids);
    let mut picked = ids.iter().map(|&id| id as usize);
    let mut assign = |count: usize, role: &dyn Fn(usize) -> Role| {
        for (k, id) in picked.by_ref().take(count).enumerate() {
            roles[id] = role(k);
        }
    };
    assign(DELETED_IN_BOTH, &|_| Role::DeletedInBoth);
    let legacy_only = INJECTED.patients_missing_in_modern as usize;
    assign(legacy_only, &|_| Role::LegacyOnly);
    assign(INJECTED.changed_insurance as usize, &Role::ChangedInsurance);
    assign(INJECTED.changed_balance as usize, &|_| Role::ChangedBalance);
    assign(INJECTED.changed_active as usize, &|_| Role::ChangedActive);
    assign(1, &|_| Role::NewestSynced);
    let deleted_in_both: Vec<i64> = (1..=OLD_PATIENT_IDS as i64)
        .filter(|&id| roles[id as usize] == Role::DeletedInBoth)
        .collect();

    let mut legacy_patients = Vec::with_capacity(INJECTED.legacy_patients as usize);
    let mut modern_patients = Vec::with_capacity(INJECTED.modern_patients as usize);
    let mut appointment_owners = Vec::new();
    for id in 1..=OLD_PATIENT_IDS as i64 {
        let role = roles[id as usize];
        if role == Role::DeletedInBoth {
            continue;
        }
        let seconds_ago = match role {
            Role::NewestSynced => NEWEST_SYNCED_SECONDS_AGO as i64,
            _ => rng.i64(NEWEST_SYNCED_SECONDS_AGO as i64 + 1..=UPDATE_SPREAD_DAYS * 86_400),
        };
        // Below half a second: equal at timestamp(0) whether truncated or rounded.
        let micros = rng.i64(0..500_000);
        let updated_at = unambiguous_in_legacy(
            now - Duration::seconds(seconds_ago) + Duration::microseconds(micros),
        );
        let mut legacy = random_patient(&mut rng, id, updated_at);
        let mut modern = legacy.clone();
        match role {
            Role::LegacyOnly => legacy.active = false,
            Role::ChangedInsurance(k) => {
                let (l, m) = match k % 8 {
                    0 => (None, Some(pick(&mut rng, CARRIERS))),
                    1 => (Some(pick(&mut rng, CARRIERS)), None),
                    _ => {
                        let l = rng.usize(..CARRIERS.len());
                        let m = (l + rng.usize(1..CARRIERS.len())) % CARRIERS.len();
                        (Some(CARRIERS[l]), Some(CARRIERS[m]))
                    }
                };
                legacy.insurer = l;
                modern.insurer = m;
            }
            Role::ChangedBalance => {
                legacy.balance_cents = rng.i64(100..=499_900);
                let delta = rng.i64(1..=9);
                modern.balance_cents = if rng.bool() {
                    legacy.balance_cents + delta
                } else {
                    legacy.balance_cents - delta
                };
            }
            Role::ChangedActive => {
                legacy.active = true;
                modern.active = false;
            }
            Role::Synced | Role::NewestSynced | Role::DeletedInBoth => {}
        }
        if role != Role::LegacyOnly {
            modern_patients.push(modern);
            appointment_owners.push(id);
        }
        legacy_patients.push(legacy);
    }

    // The newest patients: registered in modern in the last ~2 minutes, not yet synced.
    let unsynced = INJECTED.patients_missing_in_legacy as i64;
    for k in 0..unsynced {
        let id = OLD_PATIENT_IDS as i64 + 1 + k;
        let seconds_ago = (NEWEST_UNSYNCED_SECONDS_AGO
            + (unsynced - 1 - k) as u64 * UNSYNCED_SPACING_SECONDS)
            as i64;
        let updated_at =
            now - Duration::seconds(seconds_ago) + Duration::microseconds(rng.i64(0..1_000_000));
        let mut patient = random_patient(&mut rng, id, updated_at);
        patient.active = true;
        if rng.u8(..10) < 7 {
            patient.balance_cents = 0;
        }
        modern_patients.push(patient);
    }

    // Appointments of patients that exist on both sides, from a year ago to two months ahead,
    // on the quarter hour within opening hours (local time, weekdays).
    let today = now.with_timezone(&Berlin).date_naive();
    let mut modern_appointments = Vec::with_capacity(INJECTED.appointments as usize);
    for id in 1..=INJECTED.appointments as i64 {
        let date = loop {
            let date = today + Duration::days(rng.i64(-365..=60));
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                break date;
            }
        };
        let minute = 8 * 60 + 15 * rng.u32(0..40);
        let local = date.and_time(NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap());
        let starts_at = match Berlin.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            _ => unreachable!("clocks change at night, never in opening hours"),
        };
        let status = if starts_at < now {
            if rng.u8(..100) < 88 {
                Status::Done
            } else {
                Status::Cancelled
            }
        } else if rng.u8(..100) < 90 {
            Status::Scheduled
        } else {
            Status::Cancelled
        };
        modern_appointments.push(Appointment {
            id,
            patient_id: pick(&mut rng, &appointment_owners),
            starts_at,
            status,
            fee_cents: (status != Status::Cancelled).then(|| pick(&mut rng, FEES_CENTS)),
        });
    }
    // In legacy, some appointments still point at patients deleted without cascade; the
    // migration re-pointed them in modern.
    let mut legacy_appointments = modern_appointments.clone();
    let mut indexes: Vec<usize> = (0..legacy_appointments.len()).collect();
    rng.shuffle(&mut indexes);
    for (k, &i) in indexes
        .iter()
        .take(INJECTED.appointments_orphaned_in_legacy as usize)
        .enumerate()
    {
        legacy_appointments[i].patient_id = deleted_in_both[k % deleted_in_both.len()];
    }

    Dataset {
        legacy_patients,
        modern_patients,
        legacy_appointments,
        modern_appointments,
    }
}

fn random_patient(rng: &mut fastrand::Rng, id: i64, updated_at: DateTime<Utc>) -> Patient {
    let first_name = (rng.u8(..100) >= 2).then(|| pick(rng, FIRST_NAMES));
    let birth_date = (rng.u8(..100) >= 3)
        .then(|| NaiveDate::from_ymd_opt(1930, 1, 1).unwrap() + Duration::days(rng.i64(0..33_000)));
    let insurer = (rng.u8(..100) >= 8).then(|| pick(rng, CARRIERS));
    let balance_cents = if rng.u8(..100) < 40 {
        0
    } else {
        rng.i64(0..=500_000)
    };
    Patient {
        id,
        last_name: pick(rng, LAST_NAMES),
        first_name,
        birth_date,
        insurer,
        balance_cents,
        active: rng.u8(..100) < 85,
        updated_at,
    }
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())]
}

/// Moves `t` back until its legacy local time is not in the repeated hour of the autumn clock
/// change (where a zone-less local time could mean two instants).
fn unambiguous_in_legacy(mut t: DateTime<Utc>) -> DateTime<Utc> {
    loop {
        let local = t.with_timezone(&Berlin).naive_local();
        match Berlin.from_local_datetime(&local) {
            LocalResult::Single(_) => return t,
            _ => t -= Duration::hours(1),
        }
    }
}

fn legacy_local(t: DateTime<Utc>) -> String {
    t.with_timezone(&Berlin)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn modern_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

const LEGACY_SCHEMA: &str = "
CREATE TABLE PATIENT (
    PAT_ID        INTEGER PRIMARY KEY,
    LAST_NM       TEXT NOT NULL,
    FIRST_NM      TEXT,
    BIRTH_DT      TEXT,              -- 'YYYY-MM-DD'
    INS_CARRIER   TEXT,              -- NULL: self-pay
    BALANCE_CENTS INTEGER NOT NULL,
    ACTIVE_FLG    TEXT NOT NULL,     -- 'Y' / 'N'
    UPD_TS        TEXT NOT NULL      -- local time (Europe/Berlin) 'YYYY-MM-DD HH:MM:SS'
);
CREATE INDEX PATIENT_UPD_IX ON PATIENT (UPD_TS);
CREATE TABLE APPT (
    APPT_ID   INTEGER PRIMARY KEY,
    PAT_ID    INTEGER NOT NULL,
    APPT_TS   TEXT,                  -- local time (Europe/Berlin)
    STATUS_CD TEXT,                  -- 'S' scheduled, 'D' done, 'C' cancelled
    FEE_CENTS INTEGER
);
CREATE INDEX APPT_PAT_IX ON APPT (PAT_ID);
";

const MODERN_SCHEMA: &str = "
CREATE TABLE patients (
    id                INTEGER PRIMARY KEY,
    last_name         TEXT NOT NULL,
    first_name        TEXT,
    birth_date        TEXT,
    insurance_carrier TEXT,
    balance           TEXT NOT NULL,                        -- decimal, 2 places: '123.40'
    is_active         INTEGER NOT NULL CHECK (is_active IN (0, 1)),
    updated_at        TEXT NOT NULL                         -- UTC 'YYYY-MM-DDTHH:MM:SS.ffffffZ'
);
CREATE INDEX patients_updated_at_idx ON patients (updated_at);
CREATE TABLE appointments (
    id         INTEGER PRIMARY KEY,
    patient_id INTEGER NOT NULL REFERENCES patients (id),
    starts_at  TEXT,                                        -- UTC
    status     TEXT CHECK (status IN ('scheduled', 'done', 'cancelled')),
    fee        TEXT                                         -- decimal, 2 places
);
CREATE INDEX appointments_patient_id_idx ON appointments (patient_id);
";

/// Opens a fresh database at `path`, removing any previous one with its journal files.
async fn create_fresh(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    // A rollback journal rather than WAL: the agent opens the files read-only, which WAL
    // would not allow once its -shm file is gone.
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Delete)
        .synchronous(SqliteSynchronous::Normal);
    SqliteConnection::connect_with(&options).await
}

/// Rows per INSERT statement: few round trips, far below SQLite's limit on bound parameters.
const ROWS_PER_INSERT: usize = 500;

async fn write_legacy(path: &Path, data: &Dataset) -> Result<(), sqlx::Error> {
    let mut conn = create_fresh(path).await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(LEGACY_SCHEMA).execute(&mut *tx).await?;
    for rows in data.legacy_patients.chunks(ROWS_PER_INSERT) {
        QueryBuilder::new(
            "INSERT INTO PATIENT (PAT_ID, LAST_NM, FIRST_NM, BIRTH_DT, INS_CARRIER, \
             BALANCE_CENTS, ACTIVE_FLG, UPD_TS) ",
        )
        .push_values(rows, |mut b, p| {
            b.push_bind(p.id)
                .push_bind(p.last_name)
                .push_bind(p.first_name)
                .push_bind(p.birth_date.map(|d| d.format("%Y-%m-%d").to_string()))
                .push_bind(p.insurer)
                .push_bind(p.balance_cents)
                .push_bind(if p.active { "Y" } else { "N" })
                .push_bind(legacy_local(p.updated_at));
        })
        .build()
        .execute(&mut *tx)
        .await?;
    }
    for rows in data.legacy_appointments.chunks(ROWS_PER_INSERT) {
        QueryBuilder::new("INSERT INTO APPT (APPT_ID, PAT_ID, APPT_TS, STATUS_CD, FEE_CENTS) ")
            .push_values(rows, |mut b, a| {
                b.push_bind(a.id)
                    .push_bind(a.patient_id)
                    .push_bind(legacy_local(a.starts_at))
                    .push_bind(a.status.legacy_code())
                    .push_bind(a.fee_cents);
            })
            .build()
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    conn.close().await
}

async fn write_modern(path: &Path, data: &Dataset) -> Result<(), sqlx::Error> {
    let mut conn = create_fresh(path).await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(MODERN_SCHEMA).execute(&mut *tx).await?;
    for rows in data.modern_patients.chunks(ROWS_PER_INSERT) {
        QueryBuilder::new(
            "INSERT INTO patients (id, last_name, first_name, birth_date, insurance_carrier, \
             balance, is_active, updated_at) ",
        )
        .push_values(rows, |mut b, p| {
            b.push_bind(p.id)
                .push_bind(p.last_name)
                .push_bind(p.first_name)
                .push_bind(p.birth_date.map(|d| d.format("%Y-%m-%d").to_string()))
                .push_bind(p.insurer)
                .push_bind(decimal(p.balance_cents))
                .push_bind(p.active as i64)
                .push_bind(modern_utc(p.updated_at));
        })
        .build()
        .execute(&mut *tx)
        .await?;
    }
    for rows in data.modern_appointments.chunks(ROWS_PER_INSERT) {
        QueryBuilder::new("INSERT INTO appointments (id, patient_id, starts_at, status, fee) ")
            .push_values(rows, |mut b, a| {
                b.push_bind(a.id)
                    .push_bind(a.patient_id)
                    .push_bind(modern_utc(a.starts_at))
                    .push_bind(a.status.modern_name())
                    .push_bind(a.fee_cents.map(decimal));
            })
            .build()
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    conn.close().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    async fn open(path: &Path) -> SqliteConnection {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        SqliteConnection::connect_with(&options).await.unwrap()
    }

    /// The modern database with the legacy one attached as schema `legacy`.
    async fn open_both(dbs: &DemoDatabases) -> SqliteConnection {
        let mut conn = open(&dbs.modern).await;
        sqlx::query("ATTACH DATABASE ? AS legacy")
            .bind(dbs.legacy.to_str().unwrap())
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }

    async fn count(conn: &mut SqliteConnection, sql: &str) -> u64 {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(conn).await.unwrap();
        n as u64
    }

    fn parse_legacy(text: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        match Berlin.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            other => panic!("legacy local time {text} is not unambiguous: {other:?}"),
        }
    }

    fn parse_modern(text: &str) -> DateTime<Utc> {
        assert_eq!(text.len(), 27, "not 'YYYY-MM-DDTHH:MM:SS.ffffffZ': {text}");
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    async fn timestamps(conn: &mut SqliteConnection, sql: &str) -> HashMap<i64, String> {
        sqlx::query_as::<_, (i64, String)>(sql)
            .fetch_all(conn)
            .await
            .unwrap()
            .into_iter()
            .collect()
    }

    /// Asserts every injected difference by SQL, and that nothing else differs.
    async fn assert_injected(dbs: &DemoDatabases) {
        let conn = &mut open_both(dbs).await;
        let i = INJECTED;

        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM legacy.PATIENT").await,
            i.legacy_patients
        );
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM patients").await,
            i.modern_patients
        );
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM legacy.APPT").await,
            i.appointments
        );
        assert_eq!(
            count(conn, "SELECT COUNT(*) FROM appointments").await,
            i.appointments
        );

        let missing_in_legacy = "SELECT COUNT(*) FROM patients m \
            WHERE NOT EXISTS (SELECT 1 FROM legacy.PATIENT l WHERE l.PAT_ID = m.id)";
        assert_eq!(
            count(conn, missing_in_legacy).await,
            i.patients_missing_in_legacy
        );
        let missing_in_modern = "SELECT COUNT(*) FROM legacy.PATIENT l \
            WHERE NOT EXISTS (SELECT 1 FROM patients m WHERE m.id = l.PAT_ID)";
        assert_eq!(
            count(conn, missing_in_modern).await,
            i.patients_missing_in_modern
        );
        let legacy_only_active = "SELECT COUNT(*) FROM legacy.PATIENT l WHERE ACTIVE_FLG = 'Y' \
            AND NOT EXISTS (SELECT 1 FROM patients m WHERE m.id = l.PAT_ID)";
        assert_eq!(count(conn, legacy_only_active).await, 0);

        let joined = "SELECT COUNT(*) FROM patients m JOIN legacy.PATIENT l ON l.PAT_ID = m.id";
        let insurance = "l.INS_CARRIER IS NOT m.insurance_carrier";
        let balance = "printf('%d.%02d', l.BALANCE_CENTS / 100, l.BALANCE_CENTS % 100) \
            <> m.balance";
        let active = "(l.ACTIVE_FLG = 'Y') <> m.is_active";
        let others = "l.LAST_NM IS NOT m.last_name OR l.FIRST_NM IS NOT m.first_name \
            OR l.BIRTH_DT IS NOT m.birth_date";
        let c = |w: &str| format!("{joined} WHERE {w}");
        assert_eq!(count(conn, &c(insurance)).await, i.changed_insurance);
        assert_eq!(count(conn, &c(balance)).await, i.changed_balance);
        assert_eq!(count(conn, &c(active)).await, i.changed_active);
        assert_eq!(count(conn, &c(others)).await, 0);
        let any = format!("({insurance}) OR ({balance}) OR ({active})");
        assert_eq!(count(conn, &c(&any)).await, i.patients_changed);
        let deactivated = "l.ACTIVE_FLG = 'Y' AND m.is_active = 0";
        assert_eq!(count(conn, &c(deactivated)).await, i.changed_active);
        let balances_off_by_cents = "abs(l.BALANCE_CENTS - CAST(round(m.balance * 100) AS \
            INTEGER)) BETWEEN 1 AND 9";
        assert_eq!(
            count(conn, &c(balances_off_by_cents)).await,
            i.changed_balance
        );
        let null_on_one_side = "(l.INS_CARRIER IS NULL) <> (m.insurance_carrier IS NULL)";
        assert!(count(conn, &c(null_on_one_side)).await >= 5);

        let active_modern = count(conn, "SELECT COUNT(*) FROM patients WHERE is_active = 1").await;
        let active_legacy = count(
            conn,
            "SELECT COUNT(*) FROM legacy.PATIENT WHERE ACTIVE_FLG = 'Y'",
        )
        .await;
        assert_eq!(active_modern - active_legacy, i.active_patients_difference);
        // ~85% active, and the 1% threshold of the demo check is well above the difference.
        assert!((80..90).contains(&(active_legacy * 100 / i.legacy_patients)));
        assert!(i.active_patients_difference * 100 < active_modern * 9 / 10);

        let carriers = format!(
            "SELECT COUNT(*) FROM patients WHERE insurance_carrier NOT IN ('{}')",
            CARRIERS.join("', '")
        );
        assert_eq!(count(conn, &carriers).await, 0);
        let bad_balance = "SELECT COUNT(*) FROM patients \
            WHERE balance NOT GLOB '[0-9]*.[0-9][0-9]' OR balance GLOB '*[^0-9.]*' \
            OR CAST(round(balance * 100) AS INTEGER) NOT BETWEEN 0 AND 500000";
        assert_eq!(count(conn, bad_balance).await, 0);

        // Appointments: orphans in legacy only; otherwise equal once mapped.
        let orphans = "SELECT COUNT(*) FROM legacy.APPT a \
            WHERE NOT EXISTS (SELECT 1 FROM legacy.PATIENT p WHERE p.PAT_ID = a.PAT_ID) \
            AND NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = a.PAT_ID)";
        assert_eq!(
            count(conn, orphans).await,
            i.appointments_orphaned_in_legacy
        );
        let legacy_to_modern = "SELECT COUNT(*) FROM legacy.APPT a \
            WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = a.PAT_ID)";
        assert_eq!(
            count(conn, legacy_to_modern).await,
            i.appointments_orphaned_in_legacy
        );
        let modern_orphans = "SELECT COUNT(*) FROM appointments a \
            WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.id = a.patient_id) \
            OR NOT EXISTS (SELECT 1 FROM legacy.PATIENT p WHERE p.PAT_ID = a.patient_id)";
        assert_eq!(count(conn, modern_orphans).await, 0);
        let appt = "SELECT COUNT(*) FROM appointments m JOIN legacy.APPT a ON a.APPT_ID = m.id";
        assert_eq!(count(conn, appt).await, i.appointments);
        let patient_differs = format!("{appt} WHERE a.PAT_ID IS NOT m.patient_id");
        assert_eq!(count(conn, &patient_differs).await, i.appointments_changed);
        let other_differs = format!(
            "{appt} WHERE CASE a.STATUS_CD WHEN 'S' THEN 'scheduled' WHEN 'D' THEN 'done' \
             WHEN 'C' THEN 'cancelled' END IS NOT m.status \
             OR CASE WHEN a.FEE_CENTS IS NOT NULL THEN printf('%d.%02d', a.FEE_CENTS / 100, \
             a.FEE_CENTS % 100) END IS NOT m.fee"
        );
        assert_eq!(count(conn, &other_differs).await, 0);

        // Timestamps: legacy local time == modern UTC truncated (or rounded) to the second.
        let legacy = timestamps(conn, "SELECT PAT_ID, UPD_TS FROM legacy.PATIENT").await;
        let modern = timestamps(conn, "SELECT id, updated_at FROM patients").await;
        let mut compared = 0;
        for (id, m) in &modern {
            let m = parse_modern(m);
            assert!(m.timestamp_subsec_micros() < 500_000 || !legacy.contains_key(id));
            if let Some(l) = legacy.get(id) {
                assert_eq!(parse_legacy(l).timestamp(), m.timestamp(), "patient {id}");
                compared += 1;
            }
        }
        assert_eq!(compared, i.legacy_patients - i.patients_missing_in_modern);
        for l in legacy.values() {
            parse_legacy(l);
        }
        let legacy = timestamps(conn, "SELECT APPT_ID, APPT_TS FROM legacy.APPT").await;
        let modern = timestamps(conn, "SELECT id, starts_at FROM appointments").await;
        assert_eq!(legacy.len(), modern.len());
        for (id, m) in &modern {
            assert_eq!(
                parse_legacy(&legacy[id]),
                parse_modern(m),
                "appointment {id}"
            );
        }
    }

    async fn newest(conn: &mut SqliteConnection) -> (DateTime<Utc>, DateTime<Utc>) {
        let m: String = sqlx::query_scalar("SELECT MAX(updated_at) FROM patients")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let legacy = timestamps(conn, "SELECT PAT_ID, UPD_TS FROM legacy.PATIENT").await;
        let l = legacy.values().map(|t| parse_legacy(t)).max().unwrap();
        (parse_modern(&m), l)
    }

    #[tokio::test]
    async fn creates_the_demo_databases_with_the_injected_drift() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let dbs = create_databases(dir.path()).await.unwrap();
        let took = started.elapsed();
        assert_eq!(dbs.legacy, dir.path().join("legacy.db"));
        assert_eq!(dbs.modern, dir.path().join("modern.db"));
        assert_injected(&dbs).await;

        // The sync looks current: the newest modern row is seconds old, legacy trails it.
        let (modern, legacy) = newest(&mut open_both(&dbs).await).await;
        let age = (Utc::now() - modern).num_seconds();
        assert!((0..120).contains(&age), "newest modern row is {age}s old");
        if (Utc::now() - legacy).num_seconds() < 600 {
            // (not after the autumn clock change, where it may be moved back an hour or two)
            assert_eq!((modern - legacy).num_seconds() as u64, INJECTED.lag_seconds);
        }
        assert!(took.as_secs() < 20, "creating the databases took {took:?}");
    }

    #[tokio::test]
    async fn overwrites_and_is_deterministic() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T09:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("legacy.db"), b"not a database").unwrap();
        let first = create_databases_at(a.path(), now).await.unwrap();
        let first = create_databases_at(a.path(), now)
            .await
            .map(|_| first)
            .unwrap();
        let second = create_databases_at(b.path(), now).await.unwrap();
        for (x, y) in [
            (&first.legacy, &second.legacy),
            (&first.modern, &second.modern),
        ] {
            assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
        }
        assert_injected(&first).await;
        let (modern, legacy) = newest(&mut open_both(&first).await).await;
        assert_eq!(modern.timestamp() - now.timestamp(), -5);
        assert_eq!((modern - legacy).num_seconds() as u64, INJECTED.lag_seconds);
    }

    #[tokio::test]
    async fn no_ambiguous_local_times_across_the_autumn_clock_change() {
        // 02:03 local, in the repeated hour (clocks went back from 03:00 CEST to 02:00 CET).
        let now = DateTime::parse_from_rfc3339("2026-10-25T01:03:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let dir = tempfile::tempdir().unwrap();
        let dbs = create_databases_at(dir.path(), now).await.unwrap();
        assert_injected(&dbs).await; // parses every legacy time, panicking if ambiguous
    }
}
