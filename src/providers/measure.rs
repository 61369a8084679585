//! Numbers read from provider answers, checked for what they measure before they become facts:
//! a coverage of 150, −5 lines or `"NaN"` is an error naming the value, never a value a rule
//! such as `>= 50` could pass on.

use serde_json::Value as Json;

/// What a number stands for, and so which values it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// A percentage: finite, from 0 to 100.
    Percentage,
    /// A count (lines, hits, files): finite and not negative.
    Count,
}

impl Measure {
    fn allows(self, n: f64) -> bool {
        match self {
            // NaN and the infinities are outside every range.
            Measure::Percentage => (0.0..=100.0).contains(&n),
            Measure::Count => n.is_finite() && n >= 0.0,
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Measure::Percentage => "a percentage is a number from 0 to 100",
            Measure::Count => "a count is a finite number, never negative",
        }
    }
}

/// The number at `value` as `provider` answered it, checked as `measure`: `Ok(None)` when it is
/// absent or null; the number when it is a JSON number or a numeric string (Codecov stores
/// coverage as text such as `"85.00000"`); otherwise an error for people naming `what` and the
/// value: `Codecov answered an impossible coverage 150 (a percentage is a number from 0 to 100)`.
pub fn read(
    provider: &str,
    what: &str,
    measure: Measure,
    value: Option<&Json>,
) -> Result<Option<f64>, String> {
    let number = match value {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Number(n)) => n.as_f64(),
        Some(Json::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match number {
        Some(n) if measure.allows(n) => Ok(Some(n)),
        Some(n) => Err(format!(
            "{provider} answered an impossible {what} {n} ({})",
            measure.rule()
        )),
        None => Err(format!(
            "{provider} answered unexpected JSON: {what} is {}",
            shorten(value.map(Json::to_string).unwrap_or_default())
        )),
    }
}

/// A hostile answer's text, cut so that it cannot flood a message.
fn shorten(text: String) -> String {
    const MAX_CHARS: usize = 60;
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    text.chars().take(MAX_CHARS).collect::<String>() + "…"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn percent(v: Json) -> Result<Option<f64>, String> {
        read("Codecov", "coverage", Measure::Percentage, Some(&v))
    }

    #[test]
    fn possible_percentages_pass_as_numbers_or_text() {
        assert_eq!(percent(json!(85.5)), Ok(Some(85.5)));
        assert_eq!(percent(json!(0)), Ok(Some(0.0)));
        assert_eq!(percent(json!(100)), Ok(Some(100.0)));
        assert_eq!(percent(json!(" 85.00000 ")), Ok(Some(85.0)));
        assert_eq!(percent(json!(null)), Ok(None));
        assert_eq!(
            read("Codecov", "coverage", Measure::Percentage, None),
            Ok(None)
        );
    }

    #[test]
    fn impossible_percentages_are_named() {
        let rule = "(a percentage is a number from 0 to 100)";
        for (v, shown) in [
            (json!(150), "150"),
            (json!(-5), "-5"),
            (json!("150"), "150"),
            (json!("inf"), "inf"),
            (json!("-Infinity"), "-inf"),
            (json!("NaN"), "NaN"),
        ] {
            assert_eq!(
                percent(v),
                Err(format!(
                    "Codecov answered an impossible coverage {shown} {rule}"
                ))
            );
        }
    }

    #[test]
    fn counts_are_finite_and_not_negative() {
        let count = |v: Json| read("Datadog", "number of lines", Measure::Count, Some(&v));
        assert_eq!(count(json!(120000)), Ok(Some(120000.0)));
        assert_eq!(
            count(json!(-5)),
            Err("Datadog answered an impossible number of lines -5 (a count is a finite number, never negative)".into())
        );
        assert!(count(json!("inf")).is_err());
        assert!(count(json!("NaN")).is_err());
    }

    #[test]
    fn other_values_are_unexpected_json_shown_short() {
        assert_eq!(
            percent(json!("high")),
            Err("Codecov answered unexpected JSON: coverage is \"high\"".into())
        );
        let long = percent(json!({"x": "y".repeat(500)})).unwrap_err();
        assert!(long.ends_with('…') && long.chars().count() < 120, "{long}");
    }
}
