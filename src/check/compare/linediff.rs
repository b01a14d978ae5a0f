//! A unified line diff (Myers' O(ND) algorithm) for text members that differ. Bounded: past a
//! work limit it gives up and the caller reports sizes and digests instead.

/// Work budget (edit distance × lines), about 160 MB of trace at worst.
const MAX_WORK: usize = 20_000_000;
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal(usize, usize),
    Delete(usize),
    Insert(usize),
}

fn myers(a: &[&str], b: &[&str]) -> Option<Vec<Op>> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let off = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    for d in 0..=max as isize {
        if (d as usize + 1) * (max + 1) > MAX_WORK {
            return None;
        }
        trace.push(v.clone());
        let mut k = -d;
        while k <= d {
            let down = k == -d || (k != d && v[(k - 1 + off) as usize] < v[(k + 1 + off) as usize]);
            let mut x = if down {
                v[(k + 1 + off) as usize]
            } else {
                v[(k - 1 + off) as usize] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[(k + off) as usize] = x;
            if x >= n && y >= m {
                return Some(backtrack(&trace, n, m, off));
            }
            k += 2;
        }
    }
    None
}

fn backtrack(trace: &[Vec<isize>], n: isize, m: isize, off: isize) -> Vec<Op> {
    let mut ops = Vec::new();
    let (mut x, mut y) = (n, m);
    for (d, v) in trace.iter().enumerate().rev() {
        let d = d as isize;
        let k = x - y;
        let down = k == -d || (k != d && v[(k - 1 + off) as usize] < v[(k + 1 + off) as usize]);
        let prev_k = if down { k + 1 } else { k - 1 };
        let prev_x = v[(prev_k + off) as usize];
        let prev_y = prev_x - prev_k;
        while x > prev_x && y > prev_y && x > 0 && y > 0 {
            ops.push(Op::Equal(x as usize - 1, y as usize - 1));
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            if x == prev_x {
                ops.push(Op::Insert(y as usize - 1));
            } else {
                ops.push(Op::Delete(x as usize - 1));
            }
        }
        x = prev_x;
        y = prev_y;
    }
    ops.reverse();
    ops
}

fn range(start: usize, count: usize) -> String {
    // Unified diff convention: an empty range names the line before it.
    match count {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{count}", start + 1),
    }
}

/// The unified diff of two texts, or `None` when they differ too much to diff cheaply.
pub fn unified(name_a: &str, a: &str, name_b: &str, b: &str) -> Option<String> {
    let la: Vec<&str> = a.split_inclusive('\n').collect();
    let lb: Vec<&str> = b.split_inclusive('\n').collect();
    let ops = myers(&la, &lb)?;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Equal(..)))
        .map(|(i, _)| i)
        .collect();
    let mut out = format!("--- {name_a}\n+++ {name_b}\n");
    let mut i = 0;
    while i < changed.len() {
        // Grow a hunk while the next change is within two contexts of the last.
        let first = changed[i];
        let mut last = first;
        while i + 1 < changed.len() && changed[i + 1] <= last + 2 * CONTEXT + 1 {
            i += 1;
            last = changed[i];
        }
        i += 1;
        let lo = first.saturating_sub(CONTEXT);
        let hi = (last + CONTEXT + 1).min(ops.len());
        let hunk = &ops[lo..hi];
        let a_start = hunk.iter().find_map(|op| match op {
            Op::Equal(x, _) | Op::Delete(x) => Some(*x),
            Op::Insert(_) => None,
        });
        let b_start = hunk.iter().find_map(|op| match op {
            Op::Equal(_, y) | Op::Insert(y) => Some(*y),
            Op::Delete(_) => None,
        });
        let a_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Insert(_)))
            .count();
        let b_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Delete(_)))
            .count();
        // For an empty side, the position is where the other side's lines would go.
        let a_pos = a_start.unwrap_or_else(|| {
            ops[..lo]
                .iter()
                .filter(|op| !matches!(op, Op::Insert(_)))
                .count()
        });
        let b_pos = b_start.unwrap_or_else(|| {
            ops[..lo]
                .iter()
                .filter(|op| !matches!(op, Op::Delete(_)))
                .count()
        });
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a_pos, a_count),
            range(b_pos, b_count)
        ));
        for op in hunk {
            let (sign, line) = match *op {
                Op::Equal(x, _) => (' ', la[x]),
                Op::Delete(x) => ('-', la[x]),
                Op::Insert(y) => ('+', lb[y]),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_changed_line_with_context() {
        let a = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
        assert_eq!(
            unified("a/x", a, "b/x", b).unwrap(),
            "--- a/x\n+++ b/x\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
        );
    }

    #[test]
    fn insertions_deletions_and_empty_sides() {
        assert_eq!(
            unified("a", "", "b", "x\n").unwrap(),
            "--- a\n+++ b\n@@ -0,0 +1 @@\n+x\n"
        );
        assert_eq!(
            unified("a", "x\n", "b", "").unwrap(),
            "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n"
        );
        let d = unified("a", "a\nb\nc\n", "b", "a\nc\nd\n").unwrap();
        assert_eq!(d, "--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n");
        assert_eq!(
            unified("a", "same\n", "b", "same\n").unwrap(),
            "--- a\n+++ b\n"
        );
    }

    #[test]
    fn far_apart_changes_make_two_hunks() {
        let a: String = (0..30).map(|i| format!("{i}\n")).collect();
        let b = a
            .replace("\n3\n", "\nthree\n")
            .replace("\n25\n", "\ntwenty-five\n");
        let d = unified("a", &a, "b", &b).unwrap();
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(d.contains("-3\n+three\n") && d.contains("-25\n+twenty-five\n"));
    }
}
