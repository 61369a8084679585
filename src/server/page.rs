//! The entity page: server-rendered HTML (handlebars, HTML-escaped), no scripts, with an inline
//! SVG sparkline of the last 30 days of coverage. Embeddable in a portal's iframe.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::api::resolve_entity;
use super::{ApiError, AppState};
use crate::scorecard::report::visible::visible;
use crate::store::{CoverageSeries, window_start};

const TEMPLATE: &str = include_str!("entity.html.hbs");

/// The page templates (escaped by [`escape`]; missing optional fields render empty).
pub(super) fn templates() -> handlebars::Handlebars<'static> {
    let mut h = handlebars::Handlebars::new();
    h.set_strict_mode(false);
    h.register_escape_fn(escape);
    // The template is compiled into the binary and covered by tests, so it always registers.
    if let Err(e) = h.register_template_string("entity", TEMPLATE) {
        tracing::error!(error = %e, "entity page template does not compile");
    }
    h
}

/// `GET /entities/{tag}`.
pub(super) async fn entity_page(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Response {
    let (entity, results) = match resolve_entity(&state, &tag).await {
        Ok(found) => found,
        Err(e) => {
            return error_page(
                e.status(),
                &format!("No entity {tag:?} is known to rubric."),
            );
        }
    };
    let coverage = match state
        .runner()
        .store()
        .coverage_for_entity(&entity, window_start(crate::clock::now(), 30))
        .await
    {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let now = crate::clock::now();
    let scorecards: Vec<Value> = results
        .iter()
        .map(|r| {
            let e = &r.result;
            let info = state.scorecard(&r.scorecard);
            let as_of = e.data_as_of.unwrap_or(e.evaluated_at).min(e.evaluated_at);
            json!({
                "tag": r.scorecard,
                "name": info.map_or(r.scorecard.as_str(), |i| i.name.as_str()),
                "draft": info.is_some_and(|i| i.draft),
                "level": e.level,
                "level_color": e.level.as_ref()
                    .and_then(|l| info?.colors.get(l))
                    .filter(|c| css_color(c)),
                "next_level": e.next_level,
                "score": trim(e.score),
                "max_score": trim(e.max_score),
                "percentage": format!("{:.0}%", e.percentage.unwrap_or(0.0)),
                "evaluated_at": when(e.evaluated_at),
                "stale": age(now, as_of),
                "next_steps": steps(&e.next_steps),
                "rules": e.rules.iter().map(|rule| json!({
                    "title": rule.title,
                    "expression": rule.expression,
                    "level": rule.level,
                    "outcome": rule.outcome,
                    "label": label(rule.outcome.as_str()),
                    "message": rule.message,
                    "failure_message": rule.failure_message,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let name = results
        .first()
        .map_or(entity.as_str(), |r| r.result.entity_name.as_str());
    let data = json!({
        "entity": entity,
        "name": name,
        "generated_at": when(now),
        "scorecards": scorecards,
        "coverage": coverage
            .iter()
            .map(|s| sparkline(s, state.inner.settings.alerts.trend_drop_points))
            .collect::<Vec<_>>(),
    });
    match state.inner.pages.render("entity", &data) {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            let csp = content_security_policy(&state.inner.settings.frame_ancestors);
            if let Ok(v) = HeaderValue::from_str(&csp) {
                resp.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, v);
            }
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "entity page did not render");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
        }
    }
}

/// HTML-escapes text from outside, after writing out the characters that would steer its display
/// (bidi overrides can reorder what a reader sees; HTML escaping leaves them in).
pub(super) fn escape(text: &str) -> String {
    handlebars::html_escape(&visible(text))
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let escaped = escape(message);
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body><p>{escaped}</p></body></html>",
        status.as_u16()
    );
    (status, Html(html)).into_response()
}

/// The page's data for one coverage series, with its sparkline geometry and, when it is
/// declining by `declining_points` or more, the warning shown beside it.
pub(super) fn sparkline(s: &CoverageSeries, declining_points: f64) -> Value {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    const PAD: f64 = 3.0;
    let label = if s.flag.is_empty() {
        s.repository.clone()
    } else {
        format!("{} (flag {})", s.repository, s.flag)
    };
    let latest = s
        .latest
        .map_or("no data".to_string(), |c| format!("{c:.1}%"));
    let last_upload = s.last_upload_at.map_or("unknown".into(), when);
    if s.points.is_empty() {
        return json!({ "label": label, "provider": s.provider, "latest": latest, "points": "",
                       "last_upload": last_upload });
    }
    if s.points.len() == 1 {
        // One day of history so far: a dot at today's end of the chart.
        let only = s.points[0].coverage;
        return json!({
            "label": label, "provider": s.provider, "latest": latest, "last_upload": last_upload,
            "points": format!("{:.1},{:.1}", W - PAD, H / 2.0), "width": W, "height": H,
            "last_x": format!("{:.1}", W - PAD), "last_y": format!("{:.1}", H / 2.0),
            "change": "first day recorded",
            "summary": format!("Coverage history starts today: {only:.1}%"),
        });
    }
    let first_day = s.points[0].day;
    let span = (s.points[s.points.len() - 1].day - first_day)
        .num_days()
        .max(1) as f64;
    let lo = s
        .points
        .iter()
        .map(|p| p.coverage)
        .fold(f64::INFINITY, f64::min);
    let hi = s
        .points
        .iter()
        .map(|p| p.coverage)
        .fold(f64::NEG_INFINITY, f64::max);
    let range = (hi - lo).max(1.0);
    let xy: Vec<(f64, f64)> = s
        .points
        .iter()
        .map(|p| {
            let x = PAD + (p.day - first_day).num_days() as f64 / span * (W - 2.0 * PAD);
            let y = H - PAD - (p.coverage - lo) / range * (H - 2.0 * PAD);
            (x, y)
        })
        .collect();
    let points = xy
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (last_x, last_y) = xy[xy.len() - 1];
    let first = s.points[0].coverage;
    let last = s.points[s.points.len() - 1].coverage;
    json!({
        "label": label,
        "provider": s.provider,
        "latest": latest,
        "points": points,
        "width": W,
        "height": H,
        "last_x": format!("{last_x:.1}"),
        "last_y": format!("{last_y:.1}"),
        "change": format!("{:+.1} pts", last - first),
        "summary": format!("Coverage over the last 30 days: {first:.1}% to {last:.1}%"),
        "last_upload": last_upload,
        "declining": s.declining(declining_points).then(|| {
            format!("declining: {:.1} points in 30 days", first - last)
        }),
    })
}

/// Next steps as lines of text, whatever shape the scorecard module gives them.
fn steps(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_steps(v, &mut out);
    out
}

fn collect_steps(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| collect_steps(i, out)),
        Value::Object(o) => {
            if let Some(nested) = o.get("rules").or_else(|| o.get("rules_to_complete")) {
                collect_steps(nested, out);
                return;
            }
            let title = ["title", "rule", "name", "expression"]
                .iter()
                .find_map(|k| o.get(*k)?.as_str());
            let detail = ["message", "failure_message", "explanation"]
                .iter()
                .find_map(|k| o.get(*k)?.as_str());
            match (title, detail) {
                (Some(t), Some(d)) if !d.is_empty() => out.push(format!("{t}: {d}")),
                (Some(t), _) => out.push(t.to_string()),
                (None, Some(d)) => out.push(d.to_string()),
                (None, None) => {}
            }
        }
        _ => {}
    }
}

fn label(outcome: &str) -> &'static str {
    match outcome {
        "pass" => "✓ pass",
        "fail" => "✗ fail",
        "no_data" => "? no data",
        "error" => "! error",
        "skipped" => "– skipped",
        "exempt" => "✓ exempt",
        _ => "?",
    }
}

pub(super) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// "3 h" style age, or empty when under a minute.
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    match secs {
        s if s < 60 => String::new(),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// `3` rather than `3.0`.
fn trim(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// The entity page's `Content-Security-Policy`: nothing but its own inline styles and images,
/// embeddable by `frame_ancestors` (`[server] frame_ancestors`).
/// Whether a ladder's `color` is a plain CSS colour (`#c38b5f`, `#abc`, `gold`), safe in a
/// `style` attribute.
pub(super) fn css_color(text: &str) -> bool {
    match text.strip_prefix('#') {
        Some(hex) => {
            matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => {
            !text.is_empty() && text.len() <= 20 && text.chars().all(|c| c.is_ascii_lowercase())
        }
    }
}

pub(super) fn content_security_policy(frame_ancestors: &str) -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors {frame_ancestors}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_states_the_policy_the_page_sends() {
        let readme = include_str!("../../README.md");
        let policy = content_security_policy("<[server] frame_ancestors>");
        assert!(
            readme.contains(&format!("`Content-Security-Policy: {policy}`")),
            "README.md should state `Content-Security-Policy: {policy}`"
        );
    }
    use crate::store::{DailyPoint, PointSource};
    use chrono::NaiveDate;

    #[test]
    fn the_template_compiles() {
        assert!(templates().get_template("entity").is_some());
    }

    #[test]
    fn page_text_is_html_escaped_and_display_controls_written_out() {
        let html = templates()
            .render_template(
                "<p>{{name}}</p>",
                &json!({ "name": "<b>api</b>\u{1b}[31m\r\u{202e}gpj.exe" }),
            )
            .unwrap();
        assert_eq!(
            html,
            "<p>&lt;b&gt;api&lt;/b&gt;\\u{1b}[31m\\r\\u{202e}gpj.exe</p>"
        );
    }

    #[test]
    fn steps_accept_strings_and_objects() {
        let v = json!([{"title": "Coverage ≥ 80", "message": "needs 8 more points"}, "Add an owner",
                       {"level": "Gold", "rules": [{"expression": "x > 1"}]}]);
        assert_eq!(
            steps(&v),
            [
                "Coverage ≥ 80: needs 8 more points",
                "Add an owner",
                "x > 1"
            ]
        );
        assert!(steps(&Value::Null).is_empty());
    }

    #[test]
    fn sparkline_spans_the_box() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let s = CoverageSeries {
            repository: "acme/api".into(),
            flag: String::new(),
            provider: "codecov".into(),
            latest: Some(72.0),
            last_upload_at: None,
            points: vec![
                DailyPoint {
                    day: day(1),
                    coverage: 70.0,
                    source: PointSource::Backfill,
                },
                DailyPoint {
                    day: day(11),
                    coverage: 74.0,
                    source: PointSource::Backfill,
                },
                DailyPoint {
                    day: day(21),
                    coverage: 72.0,
                    source: PointSource::Backfill,
                },
            ],
        };
        let v = sparkline(&s, 1.0);
        assert_eq!(v["points"], "3.0,25.0 60.0,3.0 117.0,14.0");
        assert_eq!(v["change"], "+2.0 pts");
        assert_eq!(v["declining"], Value::Null);
        let mut falling = s.clone();
        falling.points[2].coverage = 68.5;
        assert_eq!(
            sparkline(&falling, 1.0)["declining"],
            "declining: 1.5 points in 30 days"
        );
        assert_eq!(sparkline(&falling, 2.0)["declining"], Value::Null);
        assert_eq!(
            sparkline(&falling, 0.0)["declining"],
            Value::Null,
            "0 turns it off"
        );
        let one = CoverageSeries {
            points: s.points[..1].to_vec(),
            ..s.clone()
        };
        assert_eq!(sparkline(&one, 1.0)["points"], "117.0,14.0");
        let none = CoverageSeries {
            points: Vec::new(),
            ..s
        };
        assert_eq!(sparkline(&none, 1.0)["points"], "");
    }
}
