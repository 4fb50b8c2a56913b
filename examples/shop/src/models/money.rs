//! Prices: whole cents in an `i64`, written as `12.50` on pages and forms.

use std::fmt;

/// An amount of money in cents. Commands and events carry plain cents (`1250` is 12.50) so
/// that JSON clients never meet floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cents(pub i64);

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Why a price typed into a form is not a number of cents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the price {input:?} is not an amount like 12.50: {reason}")]
pub struct PriceSyntaxError {
    /// What was typed.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Reads `12`, `12.5`, `12.50` or `-3.00` as cents. A negative amount is read as such: whether
/// it is allowed is the catalog's rule, not the parser's.
pub fn parse_price(input: &str) -> Result<Cents, PriceSyntaxError> {
    let error = |reason| PriceSyntaxError { input: input.to_owned(), reason };
    let text = input.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (units, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if units.is_empty() && fraction.is_empty() {
        return Err(error("it is empty"));
    }
    if !units.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(error("only digits and one decimal point are allowed"));
    }
    if fraction.len() > 2 {
        return Err(error("at most two digits may follow the decimal point"));
    }
    let units: i64 = if units.is_empty() { 0 } else { units.parse().map_err(|_| error("it is too large"))? };
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| error("the cents are not a number"))?;
    let cents = units.checked_mul(100).and_then(|c| c.checked_add(fraction)).ok_or_else(|| error("it is too large"))?;
    Ok(Cents(if negative { -cents } else { cents }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_prices() {
        assert_eq!(parse_price("12.50"), Ok(Cents(1250)));
        assert_eq!(parse_price(" 12.5 "), Ok(Cents(1250)));
        assert_eq!(parse_price("7"), Ok(Cents(700)));
        assert_eq!(parse_price(".99"), Ok(Cents(99)));
        assert_eq!(parse_price("-3.00"), Ok(Cents(-300)));
        assert_eq!(Cents(1250).to_string(), "12.50");
        assert_eq!(Cents(-5).to_string(), "-0.05");
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(parse_price("").unwrap_err().reason, "it is empty");
        assert_eq!(parse_price("1,50").unwrap_err().reason, "only digits and one decimal point are allowed");
        assert_eq!(parse_price("1.505").unwrap_err().reason, "at most two digits may follow the decimal point");
        assert_eq!(parse_price("99999999999999999999").unwrap_err().reason, "it is too large");
        assert!(parse_price("abc").unwrap_err().to_string().contains("\"abc\""));
    }
}
