//! Case conversions and "did you mean" suggestions.

/// `close_account` → `CloseAccount`.
pub fn pascal_case(snake: &str) -> String {
    let snake = snake.strip_prefix("r#").unwrap_or(snake);
    let mut out = String::with_capacity(snake.len());
    let mut upper = true;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `BankAccount` → `bank-account`, `HTTPServer` → `http-server`.
pub fn kebab_case(camel: &str) -> String {
    let camel = camel.strip_prefix("r#").unwrap_or(camel);
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            out.push('-');
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev != '_' && (prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower)) {
                out.push('-');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if let Some(&longer) = candidates.iter().find(|c| word.len() >= 3 && c.starts_with(word)) {
        return Some(longer);
    }
    candidates
        .iter()
        .map(|&c| (edit_distance(word, c), c))
        .filter(|&(d, c)| d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// A list of keys for a message: `` `name`, `version` or `upcast_from` ``.
pub fn one_of(keys: &[&str]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// FNV-1a, 64 bits: a stable fingerprint of a type's definition (no randomness, no std
/// hasher whose output may change between releases).
pub fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_cases() {
        assert_eq!(pascal_case("close_account"), "CloseAccount");
        assert_eq!(pascal_case("open"), "Open");
        assert_eq!(pascal_case("r#move"), "Move");
        assert_eq!(kebab_case("BankAccount"), "bank-account");
        assert_eq!(kebab_case("HTTPServer"), "http-server");
        assert_eq!(kebab_case("Order2Line"), "order2-line");
        assert_eq!(kebab_case("Shop"), "shop");
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(suggest("nmae", &["name", "version"]), Some("name"));
        assert_eq!(suggest("verison", &["name", "version"]), Some("version"));
        assert_eq!(suggest("upcast", &["name", "version", "upcast_from"]), Some("upcast_from"));
        assert_eq!(suggest("snapshot", &["name", "snapshot_every"]), Some("snapshot_every"));
        assert_eq!(suggest("colour", &["name"]), None);
    }

    #[test]
    fn lists_keys() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
