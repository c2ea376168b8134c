//! Reading reports back from files without holding their series of intervals: a report's
//! `intervals[]` (at its top, or in the `flood` object of a `saturate --json` report) is
//! handed over one interval at a time as it is parsed, and everything else of the object is
//! kept. A live interval is tens of kilobytes once its histogram is read, so a reader that
//! keeps the series holds gigabytes for a long run; one that folds it as it goes holds one.
//!
//! A file is one JSON value (a report) or several, one a line (a `--json-stream`);
//! [`Values`] reads them one at a time from any reader.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::interval::Interval;
use super::stream::SCHEMA_VERSION;

/// What a reader does with each interval of a series as it is read; `Err` stops the
/// reading with that reason.
pub(crate) type Each<'a> = dyn FnMut(Interval) -> Result<(), String> + 'a;

/// The JSON values of a file, one after another.
#[derive(Debug)]
pub(crate) struct Values<R> {
    input: BufReader<R>,
    /// Line of the file the next value starts on (from 1).
    line: usize,
    /// Whether the last value read was cut off by the end of the input.
    cut_off: bool,
}

/// Why a file could not be read: its bytes could not be had (`Io`), they are not JSON
/// (`NotJson`), a value is not what was expected (`Bad`), or the values are not in the
/// shape of any file flood-client writes (`Shape`: none, one too many, a stream without
/// its `start`); said with where.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Reading failed.
    Io(io::Error),
    /// The bytes are not JSON (or not UTF-8).
    NotJson(String),
    /// The JSON is not what was expected.
    Bad(String),
    /// The values are not a file flood-client writes.
    Shape(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            Self::NotJson(why) | Self::Bad(why) | Self::Shape(why) => f.write_str(why),
        }
    }
}

impl From<serde_json::Error> for ReadError {
    fn from(e: serde_json::Error) -> ReadError {
        use serde_json::error::Category;
        match e.classify() {
            Category::Io => ReadError::Io(e.into()),
            Category::Syntax | Category::Eof => ReadError::NotJson(e.to_string()),
            Category::Data => ReadError::Bad(e.to_string()),
        }
    }
}

impl<R: Read> Values<R> {
    /// The values of `input`.
    pub(crate) fn new(input: R) -> Values<R> {
        Values {
            input: BufReader::new(input),
            line: 1,
            cut_off: false,
        }
    }

    /// The line the value [`Values::next`] returned last started on.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// True when the value [`Values::next`] failed on was cut off by the end of the input
    /// (a file still being written): its last, torn, line.
    pub(crate) fn cut_off(&self) -> bool {
        self.cut_off
    }

    /// The next value, which must be an object: its intervals go to `each` and the rest is
    /// returned; `None` at the end of the input.
    pub(crate) fn next(
        &mut self,
        each: &mut Each<'_>,
    ) -> Result<Option<Map<String, Value>>, ReadError> {
        if !self.skip_whitespace().map_err(ReadError::Io)? {
            return Ok(None);
        }
        // Parsing an object stops at its closing brace, so the next value is left in place.
        let mut de = serde_json::Deserializer::from_reader(&mut self.input);
        let value = Fields { each }.deserialize(&mut de);
        self.cut_off = value.as_ref().is_err_and(serde_json::Error::is_eof);
        Ok(Some(value?))
    }

    /// Skips whitespace, counting lines; false at the end of the input.
    fn skip_whitespace(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let blank = buf
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .inspect(|b| self.line += usize::from(**b == b'\n'))
                .count();
            let more = blank < buf.len();
            self.input.consume(blank);
            if more {
                return Ok(true);
            }
        }
    }
}

/// The oldest schema this build reads: version 3 only added fields (the verdict, the
/// generator's lateness), which a version 2 report lacks and reads as absent.
const OLDEST_READ: u32 = 2;

/// Refuses a report or event of a schema this build does not know (one written by a newer
/// flood-client, or an older one than [`OLDEST_READ`]); one without a `schema_version`
/// (hand-made) is read as this one.
pub(crate) fn known_schema(fields: &Map<String, Value>) -> Result<(), String> {
    let known = u64::from(OLDEST_READ)..=u64::from(SCHEMA_VERSION);
    match fields.get("schema_version") {
        None => Ok(()),
        Some(v) if v.as_u64().is_some_and(|v| known.contains(&v)) => Ok(()),
        Some(v) => Err(format!(
            "schema_version {v} is not one this flood-client reads (it reads \
             {OLDEST_READ} to {SCHEMA_VERSION}): read it with the flood-client that wrote it, \
             or a newer one"
        )),
    }
}

/// An object's fields, its `intervals[]` handed to `each` (also in a nested `flood`).
struct Fields<'e, 'a> {
    each: &'e mut Each<'a>,
}

impl<'de> DeserializeSeed<'de> for Fields<'_, '_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_, '_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rest = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match key.as_str() {
                "intervals" => {
                    map.next_value_seed(Series {
                        each: &mut *self.each,
                    })?;
                    continue;
                }
                "flood" => Value::Object(map.next_value_seed(Fields {
                    each: &mut *self.each,
                })?),
                _ => map.next_value()?,
            };
            rest.insert(key, value);
        }
        Ok(rest)
    }
}

/// An `intervals[]` array, each element handed over as it is read.
struct Series<'e, 'a> {
    each: &'e mut Each<'a>,
}

impl<'de> DeserializeSeed<'de> for Series<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Series<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of intervals")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(interval) = seq.next_element::<Interval>()? {
            (self.each)(interval).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_handed_over_and_the_rest_kept_value_by_value() {
        let interval = serde_json::to_string(&Interval::starting(7, 100, 700)).unwrap();
        let text = format!(
            "{{\"a\":1,\"intervals\":[{interval},{interval}],\"b\":[2]}}\n\n  \
             {{\"flood\":{{\"intervals\":[{interval}],\"c\":3}},\"samples\":[]}}\n"
        );
        let mut values = Values::new(text.as_bytes());
        let mut seen = Vec::new();
        let mut each = |i: Interval| {
            seen.push(i.index);
            Ok(())
        };
        let first = values.next(&mut each).unwrap().unwrap();
        assert_eq!(Value::Object(first), serde_json::json!({"a": 1, "b": [2]}));
        let second = values.next(&mut each).unwrap().unwrap();
        assert_eq!(values.line(), 3);
        assert_eq!(second["flood"], serde_json::json!({"c": 3}));
        assert!(values.next(&mut each).unwrap().is_none());
        let err = Values::new(&b"{\"a\":\xff}"[..])
            .next(&mut each)
            .unwrap_err();
        assert!(matches!(err, ReadError::NotJson(_)), "{err}");
        assert_eq!(seen, [7, 7, 7]);
        // `each` can stop the reading.
        let mut refuse = |_: Interval| Err("no more".to_string());
        let err = Values::new(text.as_bytes()).next(&mut refuse).unwrap_err();
        assert!(err.to_string().contains("no more"), "{err}");
    }

    #[test]
    fn a_schema_this_build_does_not_know_is_refused() {
        let fields = |v: Value| v.as_object().cloned().unwrap();
        assert!(known_schema(&fields(serde_json::json!({}))).is_ok());
        assert!(known_schema(&fields(
            serde_json::json!({"schema_version": SCHEMA_VERSION})
        ))
        .is_ok());
        // Version 2 lacks only fields version 3 added.
        assert!(known_schema(&fields(serde_json::json!({"schema_version": 2}))).is_ok());
        // Version 1 had flag-shaped settings for `config`, not the RunConfig.
        assert!(known_schema(&fields(serde_json::json!({"schema_version": 1}))).is_err());
        let err = known_schema(&fields(serde_json::json!({"schema_version": 999}))).unwrap_err();
        assert!(err.contains("schema_version 999"), "{err}");
    }
}
