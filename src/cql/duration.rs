//! ISO-8601 durations for `duration("P1W")`: `P[nY][nM][nW][nD][T[nH][nM][nS]]`, with a leading
//! sign (`-P90D`), signed components as Java writes them (`P-90D`) and fractions (`PT1.5S`).
//! A year is 365 days and a month 30 days (durations here are fixed spans of time).

use chrono::TimeDelta;

/// Parses an ISO-8601 duration, or says what is wrong with it.
pub fn parse(text: &str) -> Result<TimeDelta, String> {
    let bad = |why: &str| format!("`{text}` is not an ISO-8601 duration: {why}");
    let s = text.trim();
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let rest = rest
        .strip_prefix(['P', 'p'])
        .ok_or_else(|| bad("it must start with P (e.g. P7D, PT12H)"))?;
    if rest.is_empty() {
        return Err(bad("it has no components"));
    }
    let mut millis = 0f64;
    let mut in_time = false;
    let mut num = String::new();
    let mut seen_component = false;
    let mut last_rank = 0u8;
    for c in rest.chars() {
        match c {
            'T' | 't' if num.is_empty() && !in_time => {
                in_time = true;
                last_rank = 0;
            }
            '0'..='9' | '.' | ',' | '-' | '+' => num.push(if c == ',' { '.' } else { c }),
            unit => {
                let value: f64 = num
                    .parse()
                    .map_err(|_| bad(&format!("missing number before `{unit}`")))?;
                let (rank, ms) = match (in_time, unit.to_ascii_uppercase()) {
                    (false, 'Y') => (1, 365.0 * 86_400_000.0),
                    (false, 'M') => (2, 30.0 * 86_400_000.0),
                    (false, 'W') => (3, 7.0 * 86_400_000.0),
                    (false, 'D') => (4, 86_400_000.0),
                    (true, 'H') => (5, 3_600_000.0),
                    (true, 'M') => (6, 60_000.0),
                    (true, 'S') => (7, 1000.0),
                    _ => return Err(bad(&format!("unknown unit `{unit}`"))),
                };
                if rank <= last_rank {
                    return Err(bad("components are out of order"));
                }
                last_rank = rank;
                millis += value * ms;
                num.clear();
                seen_component = true;
            }
        }
    }
    if !num.is_empty() {
        return Err(bad(&format!("`{num}` has no unit")));
    }
    if !seen_component {
        return Err(bad("it has no components"));
    }
    let total = sign * millis;
    if !total.is_finite() || total.abs() > 9.0e15 {
        return Err(bad("it is too long"));
    }
    Ok(TimeDelta::milliseconds(total.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_durations() {
        let d = TimeDelta::days;
        let cases: &[(&str, Result<TimeDelta, &str>)] = &[
            ("P1W", Ok(d(7))),
            ("P-90D", Ok(d(-90))),
            ("-P90D", Ok(d(-90))),
            ("P1DT12H", Ok(d(1) + TimeDelta::hours(12))),
            ("PT1.5S", Ok(TimeDelta::milliseconds(1500))),
            ("PT90M", Ok(TimeDelta::minutes(90))),
            ("P1M", Ok(d(30))),
            ("P1Y", Ok(d(365))),
            ("-P1DT-1H", Ok(-(d(1) - TimeDelta::hours(1)))),
            (
                "P",
                Err("`P` is not an ISO-8601 duration: it has no components"),
            ),
            (
                "7D",
                Err("`7D` is not an ISO-8601 duration: it must start with P (e.g. P7D, PT12H)"),
            ),
            (
                "P7",
                Err("`P7` is not an ISO-8601 duration: `7` has no unit"),
            ),
            (
                "PD",
                Err("`PD` is not an ISO-8601 duration: missing number before `D`"),
            ),
            (
                "P1H",
                Err("`P1H` is not an ISO-8601 duration: unknown unit `H`"),
            ),
            (
                "P1D2W",
                Err("`P1D2W` is not an ISO-8601 duration: components are out of order"),
            ),
            (
                "PT",
                Err("`PT` is not an ISO-8601 duration: it has no components"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), want.map_err(str::to_string), "{text}");
        }
    }
}
