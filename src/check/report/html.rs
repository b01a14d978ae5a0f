//! `hermit report --html FILE`: the summary as one self-contained page (inline style, no
//! script, nothing fetched), so it can be attached to a CI run or served as it is.
//!
//! Names, backends, reasons and errors come from archives and records hermit did not make:
//! every one passes through [`escape`], and control characters are shown escaped as on the
//! terminal.

use std::fmt::Write;

use super::{Counts, Summary, VERDICTS, verdict_label};

/// Members listed per miss; the JSON has them all.
const MEMBERS_SHOWN: usize = 200;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:0 0 1.5em}\
th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}\
td.n{text-align:right}code{font:13px ui-monospace,monospace}\
.bit-identical{background:#dfd}.identical-after-normalizing{background:#efd}\
.same-code{background:#ffd}.same-python-code{background:#ffe}.different{background:#fdd}.failed{background:#eee}";

/// `text` safe as HTML element content or a quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in crate::output::sanitize(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>hermit rebuild report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>hermit rebuild report</h1>\n<p>{} releases: {}.</p>\n",
        summary.total,
        VERDICTS
            .iter()
            .map(|v| format!("{} {}", summary.verdicts[*v], verdict_label(v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    breakdown(
        &mut out,
        "By backend",
        "backend",
        &summary.by_backend,
        summary,
    );
    breakdown(
        &mut out,
        "By upload year",
        "year",
        &summary.by_year,
        summary,
    );

    let misses: Vec<_> = summary
        .releases
        .iter()
        .filter(|e| e.verdict != "bit-identical")
        .collect();
    let _ = writeln!(out, "<h2>Not bit-identical ({})</h2>", misses.len());
    for e in misses {
        let _ = writeln!(
            out,
            "<h3 id=\"{id}\"><code>{spec}</code> <span class=\"{class}\">{verdict}</span></h3>",
            id = escape(&e.spec),
            spec = escape(&e.spec),
            class = escape(&e.verdict),
            verdict = escape(verdict_label(&e.verdict)),
        );
        let _ = writeln!(
            out,
            "<p>backend <code>{}</code>, uploaded {}{}</p>",
            escape(&e.backend),
            escape(&e.year),
            e.wheel
                .as_deref()
                .map(|w| format!(", index file <code>{}</code>", escape(w)))
                .unwrap_or_default()
        );
        if !e.inferred.is_empty() {
            let inferred: Vec<String> = e
                .inferred
                .iter()
                .map(|(k, v)| format!("{} <code>{}</code>", escape(k), escape(v)))
                .collect();
            let _ = writeln!(out, "<p>inferred: {}</p>", inferred.join(", "));
        }
        if let Some(error) = &e.error {
            let _ = writeln!(out, "<pre>{}</pre>", escape(error));
        }
        if e.members.is_empty() {
            continue;
        }
        out.push_str("<table>\n<tr><th>member</th><th>differs in</th><th>why</th></tr>\n");
        for m in e.members.iter().take(MEMBERS_SHOWN) {
            let class = match m.class {
                "code" => "code",
                "normalized" => "metadata, after normalizing",
                _ => "raw file only",
            };
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{class}</td><td>{}</td></tr>",
                escape(&m.name),
                escape(&m.reason)
            );
        }
        if e.members.len() > MEMBERS_SHOWN {
            let _ = writeln!(
                out,
                "<tr><td colspan=\"3\">{} more (see the JSON)</td></tr>",
                e.members.len() - MEMBERS_SHOWN
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn breakdown(
    out: &mut String,
    title: &str,
    column: &str,
    groups: &std::collections::BTreeMap<String, Counts>,
    summary: &Summary,
) {
    let _ = write!(
        out,
        "<h2>{title}</h2>\n<table>\n<tr><th>{column}</th><th>total</th>"
    );
    for v in VERDICTS {
        let _ = write!(out, "<th class=\"{v}\">{}</th>", verdict_label(v));
    }
    out.push_str("</tr>\n");
    let all = [("all".to_owned(), summary.verdicts.clone())];
    for (name, counts) in groups.iter().chain(all.iter().map(|(n, c)| (n, c))) {
        let total: u64 = counts.values().sum();
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{total}</td>",
            escape(name)
        );
        for v in VERDICTS {
            let _ = write!(out, "<td class=\"n\">{}</td>", counts[v]);
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::{merge, parse_failure, parse_record, tests::record};
    use std::path::PathBuf;

    #[test]
    fn escapes_what_archives_and_records_bring() {
        assert_eq!(
            escape("<script>alert('x')</script>&\"\u{1b}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\\x1b"
        );
    }

    #[test]
    fn page_has_the_breakdowns_and_every_miss_escaped() {
        let mut v: serde_json::Value =
            serde_json::from_slice(&record("evil==1.0", "<b>x</b>", 2021, "different")).unwrap();
        v["member_reasons"]["pkg/__init__.py"] = "<img src=x onerror=alert(1)>".into();
        v["differing"] = serde_json::json!(["pkg/__init__.py", "<script>.py"]);
        let p = PathBuf::from("r.json");
        let failure = serde_json::json!({
            "schema": crate::check::report::FAILURE_SCHEMA,
            "spec": "old==0.1",
            "error": "no sdist </pre><script>x</script>",
        });
        let found = vec![
            (
                p.clone(),
                parse_record(&serde_json::to_vec(&v).unwrap(), &p).unwrap(),
            ),
            (
                p.clone(),
                parse_record(
                    &record("ok==1", "hatchling.build", 2024, "bit-identical"),
                    &p,
                )
                .unwrap(),
            ),
            (
                p.clone(),
                parse_failure(&serde_json::to_vec(&failure).unwrap(), &p).unwrap(),
            ),
        ];
        let page = render(&merge(found).unwrap());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.ends_with("</html>\n"));
        for tag in ["<script", "<img", "<b>", "href="] {
            assert!(!page.contains(tag), "{tag} in\n{page}");
        }
        assert!(
            page.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(page.contains("<h2>By backend</h2>") && page.contains("<h2>By upload year</h2>"));
        assert!(
            page.contains("<td>2021</td>") && page.contains("<td>2024</td>"),
            "{page}"
        );
        // Misses only: the bit-identical release has no section; the failure has its error.
        assert!(page.contains("<code>evil==1.0</code>") && !page.contains("<code>ok==1</code>"));
        assert!(page.contains("<code>old==0.1</code>"), "{page}");
        assert!(page.contains("<h2>Not bit-identical (2)</h2>"), "{page}");
    }
}
