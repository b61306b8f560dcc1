//! TensorBoard event files (`runs/events.out.tfevents.…`), the Hugging Face Trainer's
//! `report_to = ["tensorboard"]`: scalars at a step, readable by `tensorboard --logdir`.
//!
//! The format is small enough to write by hand, so the trainer takes no protobuf or image
//! dependencies for it. A file is a sequence of TFRecords (a little-endian `u64` length, the
//! masked CRC32C of those 8 bytes, the data, the masked CRC32C of the data); each record's
//! data is an `Event` protobuf message. The few messages and fields used here, from
//! TensorFlow's `event.proto` and `summary.proto`:
//!
//! ```text
//! Event      { double wall_time = 1; int64 step = 2; string file_version = 3;
//!              Summary summary = 5; SessionLog session_log = 7; }
//! Summary    { repeated Value value = 1; }
//! Value      { string tag = 1; float simple_value = 2; }
//! SessionLog { SessionStatus status = 1; }   // START = 1
//! ```
//!
//! Every file starts with `file_version: "brain.Event:2"` and then a `SessionLog` START at the
//! first step the run will write. TensorBoard's Python loader (`EventAccumulator`) drops every
//! event it has read from earlier files with a step at or after a START's step, so a run that
//! resumes from a checkpoint hides what the crashed run logged after it, and a fresh run (START
//! at 0) hides an earlier run's files in the same folder, as `metrics.jsonl` starts afresh.
//! TensorBoard's Rust data server ignores the START but drops a tag's points when an earlier
//! step of that tag arrives again, mostly to the same effect.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::info;

use crate::error::{io_error, Error, Result};

/// The first event of every file: the version of the `Event` format.
const FILE_VERSION: &str = "brain.Event:2";

/// What every event file's name starts with (TensorBoard lists files containing `tfevents`).
const FILE_PREFIX: &str = "events.out.tfevents.";

/// `SessionLog.SessionStatus.START`.
const SESSION_START: u64 = 1;

/// One event of an event file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorBoardEvent {
    /// Seconds since the Unix epoch when the event was written.
    pub wall_time: f64,
    /// The global step (`int64` in the format; this writer never writes a negative one).
    pub step: u64,
    pub payload: EventPayload,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    /// `file_version`, e.g. `brain.Event:2`.
    FileVersion(String),
    /// A `SessionLog` with status START: later events restart the run from this step.
    SessionStart,
    /// A `Summary`'s `simple_value` scalars as `(tag, value)`, in order; other kinds of
    /// summary value (images, histograms, tensors) are left out.
    Scalars(Vec<(String, f32)>),
    /// An event this module does not write (a graph, a log message, another session status).
    Other,
}

/// Why a record of an event file cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorruptRecord {
    #[error("the file ends inside a record")]
    Truncated,
    #[error("the record length's checksum is {found:#010x}, expected {expected:#010x}")]
    LengthChecksum { expected: u32, found: u32 },
    #[error("the record data's checksum is {found:#010x}, expected {expected:#010x}")]
    DataChecksum { expected: u32, found: u32 },
    #[error("the record is not an Event message: {0}")]
    Protobuf(&'static str),
}

/// Appends events to one new event file. Each event is written with a single `write` of the
/// whole record to an unbuffered file, so a crash loses at most the record being written.
#[derive(Debug)]
pub(crate) struct EventWriter {
    path: PathBuf,
    file: File,
}

impl EventWriter {
    /// Creates a new event file in `dir` (created if needed) and writes the file version and a
    /// `SessionLog` START at `start_step`, the first step this run will log.
    ///
    /// The file's name is `events.out.tfevents.<unix seconds>.<host>.<pid>.<n>`. TensorBoard
    /// reads a folder's files in name order and the START only hides events read before it,
    /// so the seconds are moved past those of the newest event file already in `dir` when the
    /// clock has not (a second file within the same second, or a clock set back).
    pub(crate) fn create(dir: &Path, start_step: u64) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = match newest_file_seconds(dir)? {
            Some(newest) if newest >= now.as_secs() => newest + 1,
            _ => now.as_secs(),
        };
        static FILES_OPENED: AtomicU64 = AtomicU64::new(0);
        let n = FILES_OPENED.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{FILE_PREFIX}{seconds}.{}.{}.{n}",
            hostname(),
            std::process::id()
        );
        let path = dir.join(name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let mut writer = Self { path, file };
        let wall_time = now.as_secs_f64();
        writer.write(&TensorBoardEvent {
            wall_time,
            step: 0,
            payload: EventPayload::FileVersion(FILE_VERSION.into()),
        })?;
        writer.write(&TensorBoardEvent {
            wall_time,
            step: start_step,
            payload: EventPayload::SessionStart,
        })?;
        info!(path = %writer.path.display(), start_step, "writing TensorBoard events");
        Ok(writer)
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `scalars` (tag, value) at `step` as one event; the values are stored as `f32`
    /// (`simple_value` is a `float`).
    pub(crate) fn write_scalars(&mut self, step: u64, scalars: &[(String, f64)]) -> Result<()> {
        let wall_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        self.write(&TensorBoardEvent {
            wall_time,
            step,
            payload: EventPayload::Scalars(
                scalars
                    .iter()
                    .map(|(tag, value)| (tag.clone(), *value as f32))
                    .collect(),
            ),
        })
    }

    fn write(&mut self, event: &TensorBoardEvent) -> Result<()> {
        let record = frame(&event.encode());
        self.file
            .write_all(&record)
            .and_then(|()| self.file.flush())
            .map_err(io_error(&self.path))
    }
}

/// Every event of the event file at `path`, checking both checksums of every record.
pub fn read_event_file(path: &Path) -> Result<Vec<TensorBoardEvent>> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let mut events = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let corrupt = |source| Error::EventFile {
            path: path.to_path_buf(),
            offset: offset as u64,
            source,
        };
        let (data, next) = unframe(&bytes, offset).map_err(corrupt)?;
        events.push(TensorBoardEvent::decode(data).map_err(corrupt)?);
        offset = next;
    }
    Ok(events)
}

impl TensorBoardEvent {
    /// The `Event` message's protobuf encoding.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_key(&mut out, 1, WIRE_FIXED64);
        out.extend_from_slice(&self.wall_time.to_le_bytes());
        if self.step != 0 {
            put_key(&mut out, 2, WIRE_VARINT);
            put_varint(&mut out, self.step);
        }
        match &self.payload {
            EventPayload::FileVersion(version) => put_bytes(&mut out, 3, version.as_bytes()),
            EventPayload::SessionStart => {
                let mut session_log = Vec::new();
                put_key(&mut session_log, 1, WIRE_VARINT);
                put_varint(&mut session_log, SESSION_START);
                put_bytes(&mut out, 7, &session_log);
            }
            EventPayload::Scalars(scalars) => {
                let mut summary = Vec::new();
                for (tag, value) in scalars {
                    let mut v = Vec::new();
                    put_bytes(&mut v, 1, tag.as_bytes());
                    put_key(&mut v, 2, WIRE_FIXED32);
                    v.extend_from_slice(&value.to_le_bytes());
                    put_bytes(&mut summary, 1, &v);
                }
                put_bytes(&mut out, 5, &summary);
            }
            EventPayload::Other => {}
        }
        out
    }

    fn decode(mut data: &[u8]) -> Result<Self, CorruptRecord> {
        let mut event = Self {
            wall_time: 0.0,
            step: 0,
            payload: EventPayload::Other,
        };
        while !data.is_empty() {
            match next_field(&mut data)? {
                (1, Field::Fixed64(bytes)) => event.wall_time = f64::from_le_bytes(bytes),
                (2, Field::Varint(step)) => event.step = step,
                (3, Field::Bytes(version)) => {
                    let version = std::str::from_utf8(version)
                        .map_err(|_| CorruptRecord::Protobuf("file_version is not UTF-8"))?;
                    event.payload = EventPayload::FileVersion(version.into());
                }
                (5, Field::Bytes(summary)) => {
                    event.payload = EventPayload::Scalars(decode_summary(summary)?);
                }
                (7, Field::Bytes(mut session_log)) => {
                    while !session_log.is_empty() {
                        if let (1, Field::Varint(SESSION_START)) = next_field(&mut session_log)? {
                            event.payload = EventPayload::SessionStart;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(event)
    }
}

/// The `simple_value` scalars of a `Summary` message.
fn decode_summary(mut summary: &[u8]) -> Result<Vec<(String, f32)>, CorruptRecord> {
    let mut scalars = Vec::new();
    while !summary.is_empty() {
        let (1, Field::Bytes(mut value)) = next_field(&mut summary)? else {
            continue;
        };
        let (mut tag, mut simple_value) = (None, None);
        while !value.is_empty() {
            match next_field(&mut value)? {
                (1, Field::Bytes(t)) => {
                    let t = std::str::from_utf8(t)
                        .map_err(|_| CorruptRecord::Protobuf("a summary tag is not UTF-8"))?;
                    tag = Some(t.to_string());
                }
                (2, Field::Fixed32(bytes)) => simple_value = Some(f32::from_le_bytes(bytes)),
                _ => {}
            }
        }
        if let (Some(tag), Some(value)) = (tag, simple_value) {
            scalars.push((tag, value));
        }
    }
    Ok(scalars)
}

/// `data` as a TFRecord.
fn frame(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut record = Vec::with_capacity(data.len() + 16);
    record.extend_from_slice(&length);
    record.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    record.extend_from_slice(data);
    record.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    record
}

/// The data of the TFRecord at `offset` in `bytes`, and the offset of the next record.
fn unframe(bytes: &[u8], offset: usize) -> Result<(&[u8], usize), CorruptRecord> {
    let take = |at: usize, n: usize| {
        at.checked_add(n)
            .and_then(|end| bytes.get(at..end))
            .ok_or(CorruptRecord::Truncated)
    };
    let length = take(offset, 8)?;
    let check = |bytes: &[u8], stored: &[u8]| {
        let expected = masked_crc32c(bytes);
        let found = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        (expected == found).then_some(()).ok_or((expected, found))
    };
    check(length, take(offset + 8, 4)?)
        .map_err(|(expected, found)| CorruptRecord::LengthChecksum { expected, found })?;
    let length = u64::from_le_bytes([
        length[0], length[1], length[2], length[3], length[4], length[5], length[6], length[7],
    ]);
    let length = usize::try_from(length).map_err(|_| CorruptRecord::Truncated)?;
    let data = take(offset + 12, length)?;
    let end = offset + 12 + length;
    check(data, take(end, 4)?)
        .map_err(|(expected, found)| CorruptRecord::DataChecksum { expected, found })?;
    Ok((data, end + 4))
}

/// The CRC32C (Castagnoli) lookup table, reflected polynomial `0x82F63B78`.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc32c(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// TFRecord's checksum: the CRC32C rotated right by 15 bits plus a constant.
fn masked_crc32c(bytes: &[u8]) -> u32 {
    crc32c(bytes).rotate_right(15).wrapping_add(0xa282_ead8)
}

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_BYTES: u8 = 2;
const WIRE_FIXED32: u8 = 5;

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, field: u64, wire_type: u8) {
    put_varint(out, field << 3 | u64::from(wire_type));
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_key(out, field, WIRE_BYTES);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One protobuf field's value.
enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32([u8; 4]),
}

fn next_varint(data: &mut &[u8]) -> Result<u64, CorruptRecord> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = data
            .split_first()
            .ok_or(CorruptRecord::Protobuf("a varint runs past the end"))?;
        *data = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(CorruptRecord::Protobuf("a varint is longer than 10 bytes"))
}

/// The first `n` bytes of `data`, which moves past them.
fn take<'a>(data: &mut &'a [u8], n: usize) -> Result<&'a [u8], CorruptRecord> {
    if data.len() < n {
        return Err(CorruptRecord::Protobuf("a field runs past the end"));
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Ok(head)
}

/// The next field of a message: its number and value.
fn next_field<'a>(data: &mut &'a [u8]) -> Result<(u64, Field<'a>), CorruptRecord> {
    let key = next_varint(data)?;
    let value = match (key & 7) as u8 {
        WIRE_VARINT => Field::Varint(next_varint(data)?),
        WIRE_FIXED64 => {
            let b = take(data, 8)?;
            Field::Fixed64([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
        }
        WIRE_BYTES => {
            let n = usize::try_from(next_varint(data)?)
                .map_err(|_| CorruptRecord::Protobuf("a field runs past the end"))?;
            Field::Bytes(take(data, n)?)
        }
        WIRE_FIXED32 => {
            let b = take(data, 4)?;
            Field::Fixed32([b[0], b[1], b[2], b[3]])
        }
        _ => return Err(CorruptRecord::Protobuf("a group or an unknown wire type")),
    };
    Ok((key >> 3, value))
}

/// This machine's name for the file name, with characters other than letters, digits, `-`,
/// `_` and `.` left out (`localhost` when it cannot be read).
fn hostname() -> String {
    let name: String = super::output_lock::host_name()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// The largest `<unix seconds>` among the names of the event files in `dir`.
fn newest_file_seconds(dir: &Path) -> Result<Option<u64>> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let name = entry.map_err(io_error(dir))?.file_name();
        let seconds = name
            .to_str()
            .and_then(|n| n.strip_prefix(FILE_PREFIX))
            .and_then(|rest| rest.split('.').next())
            .and_then(|s| s.parse::<u64>().ok());
        newest = newest.max(seconds);
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalars(events: &[TensorBoardEvent]) -> Vec<(u64, String, f32)> {
        events
            .iter()
            .flat_map(|e| match &e.payload {
                EventPayload::Scalars(s) => s
                    .iter()
                    .map(|(tag, v)| (e.step, tag.clone(), *v))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn event_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // The CRC catalogue's check value of CRC-32/ISCSI (Castagnoli) for "123456789".
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn scalars_written_are_read_back_after_the_version_and_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path(), 0).unwrap();
        writer
            .write_scalars(
                10,
                &[
                    ("train/loss".into(), 1.25),
                    ("train/learning_rate".into(), 5e-5),
                ],
            )
            .unwrap();
        writer
            .write_scalars(300, &[("eval/sts_spearman_cosine".into(), 0.875)])
            .unwrap();
        let path = writer.path().to_path_buf();
        drop(writer);

        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with(FILE_PREFIX), "{name}");
        assert!(
            name.contains(&format!(".{}.", std::process::id())),
            "{name}"
        );
        let events = read_event_file(&path).unwrap();
        assert_eq!(
            events[0].payload,
            EventPayload::FileVersion("brain.Event:2".into())
        );
        assert_eq!(
            (events[1].step, &events[1].payload),
            (0, &EventPayload::SessionStart)
        );
        assert!(events.iter().all(|e| e.wall_time > 1.6e9), "{events:?}");
        assert_eq!(
            scalars(&events),
            [
                (10, "train/loss".to_string(), 1.25),
                (10, "train/learning_rate".to_string(), 5e-5),
                (300, "eval/sts_spearman_cosine".to_string(), 0.875),
            ]
        );
    }

    #[test]
    fn a_flipped_byte_fails_the_data_or_length_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path(), 0).unwrap();
        writer
            .write_scalars(1, &[("train/loss".into(), 2.0)])
            .unwrap();
        let path = writer.path().to_path_buf();
        drop(writer);
        let good = std::fs::read(&path).unwrap();
        let first_record = 12 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize + 4;

        // The last byte of the last record's data (before its 4-byte checksum).
        let mut bad = good.clone();
        let at = bad.len() - 5;
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        match read_event_file(&path).unwrap_err() {
            Error::EventFile {
                source: CorruptRecord::DataChecksum { .. },
                offset,
                ..
            } => assert!(offset as usize > first_record, "{offset}"),
            other => panic!("{other:?}"),
        }

        // The first record's length.
        let mut bad = good.clone();
        bad[0] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let err = read_event_file(&path).unwrap_err();
        assert!(
            matches!(
                err,
                Error::EventFile {
                    source: CorruptRecord::LengthChecksum { .. },
                    offset: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );

        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(matches!(
            read_event_file(&path).unwrap_err(),
            Error::EventFile {
                source: CorruptRecord::Truncated,
                ..
            }
        ));
    }

    #[test]
    fn a_resumed_run_starts_a_later_file_with_a_session_start_at_its_first_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut crashed = EventWriter::create(dir.path(), 0).unwrap();
        for step in [2, 4, 6] {
            crashed
                .write_scalars(step, &[("train/loss".into(), step as f64)])
                .unwrap();
        }
        drop(crashed);
        // Resumed from the checkpoint at step 4: it logs from step 5 on.
        let mut resumed = EventWriter::create(dir.path(), 5).unwrap();
        resumed
            .write_scalars(6, &[("train/loss".into(), 60.0)])
            .unwrap();
        let resumed_path = resumed.path().to_path_buf();
        drop(resumed);

        let files = event_files(dir.path());
        assert_eq!(files.len(), 2);
        assert_eq!(files[1], resumed_path, "the resumed file sorts last");
        let events = read_event_file(&files[1]).unwrap();
        assert!(matches!(events[0].payload, EventPayload::FileVersion(_)));
        assert_eq!(
            (events[1].step, &events[1].payload),
            (5, &EventPayload::SessionStart)
        );

        // TensorBoard's purge: a START drops what was read before it at or after its step.
        let mut seen: Vec<(u64, String, f32)> = Vec::new();
        for file in &files {
            for event in read_event_file(file).unwrap() {
                if event.payload == EventPayload::SessionStart {
                    seen.retain(|(step, ..)| *step < event.step);
                }
                seen.extend(scalars(std::slice::from_ref(&event)));
            }
        }
        let loss: Vec<(u64, f32)> = seen.iter().map(|(s, _, v)| (*s, *v)).collect();
        assert_eq!(loss, [(2, 2.0), (4, 4.0), (6, 60.0)]);
    }

    #[test]
    fn a_new_file_sorts_after_the_newest_even_when_the_clock_is_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A file from a machine whose clock was ahead (2096).
        let ahead = format!("{FILE_PREFIX}4000000000.elsewhere.1.0");
        std::fs::write(dir.path().join(&ahead), b"").unwrap();
        let first = EventWriter::create(dir.path(), 0).unwrap();
        let second = EventWriter::create(dir.path(), 0).unwrap();
        let names: Vec<PathBuf> = event_files(dir.path());
        assert_eq!(
            names,
            [
                dir.path().join(ahead),
                first.path().into(),
                second.path().into()
            ]
        );
        let name = first.path().file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!("{FILE_PREFIX}4000000001.")),
            "{name}"
        );
    }

    #[test]
    fn events_encode_as_tensorboards_protobuf_classes_do() {
        // tensorboard 2.21.0, `from tensorboard.compat.proto import event_pb2, summary_pb2`:
        // event_pb2.Event(wall_time=1.5, file_version="brain.Event:2").SerializeToString()
        // event_pb2.Event(wall_time=1.5, step=5,
        //     session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START))
        // event_pb2.Event(wall_time=1.5, step=10, summary=summary_pb2.Summary(
        //     value=[summary_pb2.Summary.Value(tag="train/loss", simple_value=1.25)]))
        let cases = [
            (
                0,
                EventPayload::FileVersion("brain.Event:2".into()),
                "09000000000000f83f1a0d627261696e2e4576656e743a32",
            ),
            (
                5,
                EventPayload::SessionStart,
                "09000000000000f83f10053a020801",
            ),
            (
                10,
                EventPayload::Scalars(vec![("train/loss".into(), 1.25)]),
                "09000000000000f83f100a2a130a110a0a747261696e2f6c6f7373150000a03f",
            ),
        ];
        for (step, payload, python) in cases {
            let event = TensorBoardEvent {
                wall_time: 1.5,
                step,
                payload,
            };
            let bytes = event.encode();
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, python, "{event:?}");
            assert_eq!(TensorBoardEvent::decode(&bytes).unwrap(), event);
        }
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            let mut data = out.as_slice();
            assert_eq!(next_varint(&mut data).unwrap(), value);
            assert!(data.is_empty());
        }
    }
}
