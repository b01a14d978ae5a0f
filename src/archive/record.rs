//! A wheel's `RECORD` (the binary distribution format): one CSV row per file, `path,hash,size`,
//! with `hash` spelled `sha256=` + urlsafe base64 without padding and RECORD's own row left
//! without hash or size.
//!
//! Read and written as Python's `csv` module does, since that is what backends and installers
//! use: a field may be double-quoted, `""` inside quotes is one quote, commas and line breaks
//! inside quotes belong to the field. Judging a backend's wheel and laying out a locked one
//! both check members against it here, with the same rules.

use std::collections::{BTreeMap, BTreeSet};

use crate::record::digest::Sha256;

/// One row: the path as the wheel names it, the hash (`ALGO=VALUE`) and the size in bytes,
/// each as written (empty when left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub path: String,
    pub hash: String,
    pub size: String,
    /// The line the row starts on, for messages (0 for rows made here).
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("`{record}` is not UTF-8")]
    NotUtf8 { record: String },
    #[error("`{record}` line {line}: unterminated quote")]
    Unterminated { record: String, line: usize },
    #[error("`{record}` line {line}: want 3 fields, found {found}")]
    Fields {
        record: String,
        line: usize,
        found: usize,
    },
    #[error("`{record}` line {line}: lists `{path}`, which the wheel does not contain")]
    Absent {
        record: String,
        line: usize,
        path: String,
    },
    #[error("`{record}` line {line}: `{hash}` is not a sha256 hash; hermit checks sha256 only")]
    NotSha256 {
        record: String,
        line: usize,
        hash: String,
    },
    #[error("member `{member}` is not listed in `{record}`")]
    Unlisted { record: String, member: String },
    #[error("`{record}` lists `{member}` without a hash")]
    Unhashed { record: String, member: String },
    #[error("member `{member}` does not match its RECORD entry ({detail})")]
    Mismatch { member: String, detail: String },
}

/// `sha256=` + urlsafe base64 without padding: RECORD's spelling of a file's digest.
pub fn hash(data: &[u8]) -> String {
    format!("sha256={}", Sha256::of(data).urlsafe_b64())
}

impl Row {
    /// The row for a file with these contents.
    pub fn of(path: &str, data: &[u8]) -> Self {
        Self {
            path: path.to_owned(),
            hash: hash(data),
            size: data.len().to_string(),
            line: 0,
        }
    }

    /// RECORD's own row: it cannot hold its own hash.
    pub fn unhashed(path: &str) -> Self {
        Self {
            path: path.to_owned(),
            hash: String::new(),
            size: String::new(),
            line: 0,
        }
    }

    /// The row as one CSV line, without its line break.
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{}",
            field(&self.path),
            field(&self.hash),
            field(&self.size)
        )
    }

    /// Checks `data` against the hash and size this row gives (either may be left out).
    fn check(&self, record: &str, data: &[u8]) -> Result<(), RecordError> {
        if !self.hash.is_empty() {
            let Some(want) = self.hash.strip_prefix("sha256=") else {
                return Err(RecordError::NotSha256 {
                    record: record.to_owned(),
                    line: self.line,
                    hash: self.hash.clone(),
                });
            };
            let got = hash(data);
            // Padding carries no bits; some writers leave it on.
            if got["sha256=".len()..] != *want.trim_end_matches('=') {
                return Err(RecordError::Mismatch {
                    member: self.path.clone(),
                    detail: format!("RECORD says sha256={want}, content is {got}"),
                });
            }
        }
        if !self.size.is_empty() && self.size.parse::<usize>().ok() != Some(data.len()) {
            return Err(RecordError::Mismatch {
                member: self.path.clone(),
                detail: format!("RECORD says {} bytes, content is {}", self.size, data.len()),
            });
        }
        Ok(())
    }
}

/// Writes rows in the order given, one per line, each ended by `\n` (as backends write it).
pub fn write(rows: &[Row]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&row.to_line());
        out.push('\n');
    }
    out
}

/// Quotes a field the way `csv.writer` does by default (only when it must).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Reads the rows of the RECORD named `record` (its path in the wheel, for messages). Blank
/// lines are skipped, as `csv.reader` yields nothing for them; every other row must have
/// three fields.
pub fn parse(record: &str, bytes: &[u8]) -> Result<Vec<Row>, RecordError> {
    let text = std::str::from_utf8(bytes).map_err(|_| RecordError::NotUtf8 {
        record: record.to_owned(),
    })?;
    let mut rows = Vec::new();
    for (line, fields) in csv_rows(text).map_err(|line| RecordError::Unterminated {
        record: record.to_owned(),
        line,
    })? {
        let found = fields.len();
        let Ok([path, hash, size]) = <[String; 3]>::try_from(fields) else {
            return Err(RecordError::Fields {
                record: record.to_owned(),
                line,
                found,
            });
        };
        rows.push(Row {
            path,
            hash,
            size,
            line,
        });
    }
    Ok(rows)
}

/// Splits CSV text into rows of fields with the line each row starts on, following
/// `csv.reader` with its default dialect. An unterminated quote is an error (the line it
/// opened on), where `csv` would quietly end the field: a RECORD cut short is not whole.
fn csv_rows(text: &str) -> Result<Vec<(usize, Vec<String>)>, usize> {
    #[derive(PartialEq)]
    enum State {
        StartRow,
        StartField,
        Plain,
        Quoted,
        QuoteInQuoted,
    }
    let mut rows = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut state = State::StartRow;
    let (mut line, mut row_line, mut quote_line) = (1, 1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // `\r\n` is one line break; inside quotes both characters stay in the field.
        let crlf = c == '\r' && chars.peek() == Some(&'\n');
        let newline = c == '\n' || c == '\r';
        if newline && !crlf {
            line += 1;
        }
        match state {
            State::Quoted => match c {
                '"' => state = State::QuoteInQuoted,
                c => field.push(c),
            },
            State::QuoteInQuoted if c == '"' => {
                field.push('"');
                state = State::Quoted;
            }
            _ if newline => {
                if crlf {
                    chars.next();
                    line += 1;
                }
                if state != State::StartRow {
                    fields.push(std::mem::take(&mut field));
                    rows.push((row_line, std::mem::take(&mut fields)));
                }
                state = State::StartRow;
            }
            _ if c == ',' => {
                if state == State::StartRow {
                    row_line = line;
                }
                fields.push(std::mem::take(&mut field));
                state = State::StartField;
            }
            State::StartRow | State::StartField if c == '"' => {
                if state == State::StartRow {
                    row_line = line;
                }
                quote_line = line;
                state = State::Quoted;
            }
            _ => {
                if state == State::StartRow {
                    row_line = line;
                }
                field.push(c);
                state = State::Plain;
            }
        }
    }
    match state {
        State::Quoted => return Err(quote_line),
        State::StartRow => {}
        _ => {
            fields.push(field);
            rows.push((row_line, fields));
        }
    }
    Ok(rows)
}

/// Whether a member may be left without a hash in RECORD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unhashed {
    /// As the wheel format allows: the row's hash is checked only when given.
    Allowed,
    /// Every member but RECORD itself must be hashed: what is installed must be vouched for.
    Refused,
}

/// Checks the RECORD `record` (its path; its `bytes`) against the wheel's files: every row
/// names a file that exists with the hash and size given, and every file but RECORD is listed.
/// `files` holds the members to account for, by path.
pub fn verify(
    record: &str,
    bytes: &[u8],
    files: &BTreeMap<&str, &[u8]>,
    unhashed: Unhashed,
) -> Result<(), RecordError> {
    let mut listed = BTreeSet::new();
    for mut row in parse(record, bytes)? {
        // Some wheels of 2019 (flit 1) list `x.dist-info//tmp/…/LICENSE` for the member
        // `x.dist-info/tmp/…/LICENSE`: an empty path segment means nothing, as to installers.
        while row.path.contains("//") {
            row.path = row.path.replace("//", "/");
        }
        let Some(data) = files.get(row.path.as_str()) else {
            return Err(RecordError::Absent {
                record: record.to_owned(),
                line: row.line,
                path: row.path,
            });
        };
        if unhashed == Unhashed::Refused && row.hash.is_empty() && row.path != record {
            return Err(RecordError::Unhashed {
                record: record.to_owned(),
                member: row.path,
            });
        }
        row.check(record, data)?;
        listed.insert(row.path);
    }
    match files
        .keys()
        .find(|f| **f != record && !listed.contains(**f))
    {
        Some(missing) => Err(RecordError::Unlisted {
            record: record.to_owned(),
            member: (*missing).to_owned(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = "a-1.dist-info/RECORD";

    fn fields(text: &str) -> Vec<Vec<String>> {
        csv_rows(text)
            .unwrap()
            .into_iter()
            .map(|(_, f)| f)
            .collect()
    }

    #[test]
    fn reads_quoted_fields_as_python_csv_does() {
        assert_eq!(
            fields("\"a,\"\"b\",sha256=x,3\nplain,,\n"),
            [vec!["a,\"b", "sha256=x", "3"], vec!["plain", "", ""]]
        );
        // A quote inside an unquoted field is an ordinary character.
        assert_eq!(fields("a\"b,c,d"), [vec!["a\"b", "c", "d"]]);
        assert_eq!(fields("\"a,b\",c,"), [vec!["a,b", "c", ""]]);
        assert_eq!(field("a,\"b"), "\"a,\"\"b\"");
        assert_eq!(field("plain/path.py"), "plain/path.py");
        // Line breaks inside quotes belong to the field; CRLF ends a row; blank lines vanish.
        assert_eq!(
            fields("\"x\ny\",1,2\r\n\r\n\"\",,\n"),
            [vec!["x\ny", "1", "2"], vec!["", "", ""]]
        );
        assert_eq!(csv_rows("ok,1,2\n\"open,1,2\n"), Err(2));
    }

    #[test]
    fn writes_what_it_reads_back() {
        let awkward = "pkg/we,ird \"name\".py";
        let rows = [
            Row::of(awkward, b"x"),
            Row::of("pkg/a.py", b""),
            Row::unhashed(REC),
        ];
        let text = write(&rows);
        assert!(
            text.starts_with("\"pkg/we,ird \"\"name\"\".py\",sha256="),
            "{text}"
        );
        assert!(text.ends_with("\na-1.dist-info/RECORD,,\n"), "{text}");
        let back = parse(REC, text.as_bytes()).unwrap();
        let paths: Vec<&str> = back.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, [awkward, "pkg/a.py", REC]);
        assert_eq!(back[1].hash, hash(b""));
        assert_eq!(back[1].line, 2);
        assert_eq!(
            hash(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn refuses_rows_that_are_not_three_fields() {
        let err = parse(REC, b"a,b,c\na,b\n").unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::Fields {
                    line: 2,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(matches!(
            parse(REC, b"\xff,,\n"),
            Err(RecordError::NotUtf8 { .. })
        ));
    }

    #[test]
    fn verify_checks_every_member_both_ways() {
        let files: BTreeMap<&str, &[u8]> = [("a, \"b\".py", &b"A"[..]), (REC, &b""[..])].into();
        let good = write(&[Row::of("a, \"b\".py", b"A"), Row::unhashed(REC)]);
        verify(REC, good.as_bytes(), &files, Unhashed::Refused).unwrap();
        // Padding on the hash is accepted.
        let padded = good.replacen(",1", "=,1", 1);
        verify(REC, padded.as_bytes(), &files, Unhashed::Refused).unwrap();

        let wrong = write(&[Row::of("a, \"b\".py", b"B"), Row::unhashed(REC)]);
        let err = verify(REC, wrong.as_bytes(), &files, Unhashed::Allowed).unwrap_err();
        assert!(matches!(err, RecordError::Mismatch { ref member, .. } if member == "a, \"b\".py"));

        let bare = format!("\"a, \"\"b\"\".py\",,\n{REC},,\n");
        verify(REC, bare.as_bytes(), &files, Unhashed::Allowed).unwrap();
        let err = verify(REC, bare.as_bytes(), &files, Unhashed::Refused).unwrap_err();
        assert!(matches!(err, RecordError::Unhashed { .. }), "{err}");

        let unlisted = format!("{REC},,\n");
        let err = verify(REC, unlisted.as_bytes(), &files, Unhashed::Allowed).unwrap_err();
        assert!(matches!(err, RecordError::Unlisted { .. }), "{err}");
        let absent = format!("{good}gone.py,,\n");
        let err = verify(REC, absent.as_bytes(), &files, Unhashed::Allowed).unwrap_err();
        assert!(matches!(err, RecordError::Absent { line: 3, .. }), "{err}");
        // An empty path segment names the same member.
        let doubled: BTreeMap<&str, &[u8]> =
            [("a-1.dist-info/tmp/LICENSE", &b"L"[..]), (REC, &b""[..])].into();
        let rows = write(&[
            Row::of("a-1.dist-info//tmp/LICENSE", b"L"),
            Row::unhashed(REC),
        ]);
        verify(REC, rows.as_bytes(), &doubled, Unhashed::Refused).unwrap();
        let md5 = format!("\"a, \"\"b\"\".py\",md5=x,1\n{REC},,\n");
        let err = verify(REC, md5.as_bytes(), &files, Unhashed::Allowed).unwrap_err();
        assert!(matches!(err, RecordError::NotSha256 { .. }), "{err}");
    }
}
