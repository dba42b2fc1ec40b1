//! Server-side charts as inline SVG: no script, no request to anywhere, the
//! same markup in the page, the HTML report and (later) the PDF. Labels are
//! XML-escaped here; numbers are formatted here; callers insert the result as is.

use std::fmt::Write;

/// Escapes text for XML/HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A value with its 95% interval, labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Label (a period, a region).
    pub label: String,
    /// The estimate.
    pub value: f64,
    /// Interval low.
    pub lo: f64,
    /// Interval high.
    pub hi: f64,
    /// Sample size, shown in the tooltip.
    pub n: u64,
}

/// A "nice" axis range covering `lo..hi`.
fn axis(lo: f64, hi: f64) -> (f64, f64, f64) {
    let (lo, hi) = if (hi - lo).abs() < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let span = hi - lo;
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A trend: the estimate as a line over periods with its 95% interval as a band.
pub fn trend(points: &[Point], title: &str, y_label: &str) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 240.0, 48.0, 12.0, 28.0, 36.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" class="chart"><title>{t}</title>"#,
        t = escape(title)
    );
    if points.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let lo = points.iter().map(|p| p.lo).fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.hi)
        .fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1, step) = axis(lo, hi);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let x = |i: usize| {
        if points.len() == 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (points.len() - 1) as f64
        }
    };
    let y = |v: f64| top + ph * (1.0 - (v - y0) / (y1 - y0));
    let mut tick = y0;
    while tick <= y1 + step / 2.0 {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e3e6ea"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11" fill="#4a5260">{}</text>"##,
            w - right,
            left - 6.0,
            y(tick) + 4.0,
            fmt_num(tick),
            yy = y(tick)
        );
        tick += step;
    }
    let _ = write!(
        s,
        r##"<text x="{left}" y="16" font-size="12" fill="#4a5260">{}</text>"##,
        escape(y_label)
    );
    // The band: upper edge left to right, lower edge back.
    let mut band = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            band,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(i),
            y(p.hi)
        );
    }
    for (i, p) in points.iter().enumerate().rev() {
        let _ = write!(band, "L{:.1},{:.1} ", x(i), y(p.lo));
    }
    let _ = write!(
        s,
        r##"<path d="{band}Z" fill="#0b5cad" fill-opacity="0.15"/>"##
    );
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            line,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x(i),
            y(p.value)
        );
    }
    let _ = write!(
        s,
        r##"<path d="{line}" fill="none" stroke="#0b5cad" stroke-width="2"/>"##
    );
    let every = points.len().div_ceil(12).max(1);
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#0b5cad"><title>{}: {} [{}, {}], n {}</title></circle>"##,
            x(i),
            y(p.value),
            escape(&p.label),
            fmt_num(p.value),
            fmt_num(p.lo),
            fmt_num(p.hi),
            p.n
        );
        if i % every == 0 || i + 1 == points.len() {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="11" fill="#4a5260">{}</text>"##,
                x(i),
                h - 12.0,
                escape(&p.label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars with interval whiskers, one per group.
pub fn bars(points: &[Point], title: &str) -> String {
    let row = 26.0;
    let (w, left, right, top) = (640.0, 150.0, 60.0, 8.0);
    let h = top * 2.0 + row * points.len().max(1) as f64 + 20.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" class="chart"><title>{t}</title>"#,
        t = escape(title)
    );
    if points.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let lo = points
        .iter()
        .map(|p| p.lo.min(0.0))
        .fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.hi.max(0.0))
        .fold(f64::NEG_INFINITY, f64::max);
    let (x0, x1, step) = axis(lo, hi);
    let pw = w - left - right;
    let x = |v: f64| left + pw * (v - x0) / (x1 - x0);
    let mut tick = x0;
    while tick <= x1 + step / 2.0 {
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{top}" y2="{:.1}" stroke="#e3e6ea"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#4a5260">{}</text>"##,
            h - 20.0,
            h - 6.0,
            fmt_num(tick),
            xx = x(tick)
        );
        tick += step;
    }
    for (i, p) in points.iter().enumerate() {
        let yy = top + row * i as f64;
        let (a, b) = (x(0f64.max(x0)), x(p.value));
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#1b1f24">{}</text><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#0b5cad" fill-opacity="0.75"><title>{}: {} [{}, {}], n {}</title></rect><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#1b1f24" stroke-width="1.5"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#4a5260">{}</text>"##,
            left - 8.0,
            yy + row * 0.65,
            escape(&p.label),
            a.min(b),
            yy + 5.0,
            (b - a).abs().max(1.0),
            row - 10.0,
            escape(&p.label),
            fmt_num(p.value),
            fmt_num(p.lo),
            fmt_num(p.hi),
            p.n,
            x(p.lo),
            x(p.hi),
            yy + row / 2.0,
            yy + row / 2.0,
            x(p.hi) + 6.0,
            yy + row * 0.65,
            fmt_num(p.value)
        );
    }
    s.push_str("</svg>");
    s
}

/// An importance–performance matrix: x importance (share of R², %), y
/// performance (index 0–100), split at the averages; the "fix first" quadrant
/// (important, rated low) is shaded.
pub fn importance_performance(
    points: &[(String, f64, f64, bool)],
    x_label: &str,
    y_label: &str,
    fix_label: &str,
) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 360.0, 56.0, 16.0, 16.0, 44.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" class="chart"><title>{t}</title>"#,
        t = escape(&format!("{x_label} × {y_label}"))
    );
    if points.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let xs: Vec<f64> = points.iter().map(|p| p.1).collect();
    let ys: Vec<f64> = points.iter().map(|p| p.2).collect();
    let (x0, x1, xstep) = axis(0.0, xs.iter().cloned().fold(0.0, f64::max));
    let (y0, y1, ystep) = axis(
        ys.iter().cloned().fold(f64::INFINITY, f64::min),
        ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    );
    let pw = w - left - right;
    let ph = h - top - bottom;
    let x = |v: f64| left + pw * (v - x0) / (x1 - x0);
    let y = |v: f64| top + ph * (1.0 - (v - y0) / (y1 - y0));
    let mx = xs.iter().sum::<f64>() / xs.len() as f64;
    let my = ys.iter().sum::<f64>() / ys.len() as f64;
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#b00020" fill-opacity="0.07"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#b00020">{}</text>"##,
        x(mx),
        y(my),
        w - right - x(mx),
        top + ph - y(my),
        w - right - 6.0,
        top + ph - 8.0,
        escape(fix_label)
    );
    let mut t = x0;
    while t <= x1 + xstep / 2.0 {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#4a5260">{}</text>"##,
            x(t),
            h - bottom + 16.0,
            fmt_num(t)
        );
        t += xstep;
    }
    let mut t = y0;
    while t <= y1 + ystep / 2.0 {
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e3e6ea"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#4a5260">{}</text>"##,
            w - right,
            left - 6.0,
            y(t) + 4.0,
            fmt_num(t),
            yy = y(t)
        );
        t += ystep;
    }
    let _ = write!(
        s,
        r##"<line x1="{mxx:.1}" x2="{mxx:.1}" y1="{top}" y2="{:.1}" stroke="#4a5260" stroke-dasharray="4 3"/><line x1="{left}" x2="{:.1}" y1="{myy:.1}" y2="{myy:.1}" stroke="#4a5260" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#4a5260">{}</text><text x="14" y="{:.1}" font-size="12" fill="#4a5260" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"##,
        top + ph,
        w - right,
        left + pw / 2.0,
        h - 6.0,
        escape(x_label),
        top + ph / 2.0,
        top + ph / 2.0,
        escape(y_label),
        mxx = x(mx),
        myy = y(my)
    );
    for (label, px, py, fix) in points {
        let color = if *fix { "#b00020" } else { "#0b5cad" };
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="5" fill="{color}"><title>{}: {:.1}%, {:.1}</title></circle><text x="{:.1}" y="{:.1}" font-size="12" fill="{color}">{}</text>"##,
            x(*px),
            y(*py),
            escape(label),
            px,
            py,
            x(*px) + 8.0,
            y(*py) + 4.0,
            escape(label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, v: f64) -> Point {
        Point {
            label: label.into(),
            value: v,
            lo: v - 5.0,
            hi: v + 5.0,
            n: 10,
        }
    }

    #[test]
    fn labels_are_escaped_and_charts_are_well_formed() {
        let svg = trend(
            &[p("2026-Q1", 10.0), p("<script>", 20.0)],
            "NPS & trend",
            "NPS",
        );
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains("NPS &amp; trend"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let svg = bars(&[p("华东", -12.0), p("华南", 30.0)], "NPS by region");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("华东"));
        assert!(trend(&[], "empty", "").ends_with("</svg>"));
    }

    #[test]
    fn the_fix_first_quadrant_is_marked() {
        let svg = importance_performance(
            &[
                ("price".into(), 40.0, 50.0, true),
                ("<q>".into(), 10.0, 80.0, false),
            ],
            "importance",
            "performance",
            "fix first",
        );
        assert!(svg.contains("fix first") && svg.contains("&lt;q&gt;"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("fill=\"#b00020\"><title>price"));
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(-13.0, 47.0), (-20.0, 60.0, 20.0));
        let (lo, hi, step) = axis(3.2, 4.4);
        assert!(lo <= 3.2 && hi >= 4.4 && step > 0.0);
    }
}
