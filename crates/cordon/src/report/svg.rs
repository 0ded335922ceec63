//! Inline SVG charts, generated as text: horizontal bars for rankings and columns for time.
//! Labels are escaped; nothing refers outside the document.

use super::escape::esc;

const WIDTH: u32 = 560;
const LABEL_W: u32 = 190;
const ROW_H: u32 = 22;

/// A horizontal bar chart of `(label, value, value text)`, largest first (at most 15 rows).
pub fn bars(id: &str, title: &str, rows: &[(String, f64, String)]) -> String {
    let rows: Vec<_> = rows.iter().take(15).collect();
    let max = rows.iter().map(|r| r.1).fold(0.0_f64, f64::max).max(1e-9);
    let h = 28 + ROW_H * rows.len().max(1) as u32;
    let mut s = format!(
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}"><title>{t}</title><text x="0" y="16" class="ct">{t}</text>"#,
        t = esc(title)
    );
    if rows.is_empty() {
        s += r#"<text x="0" y="42" class="cl">nothing to show</text>"#;
    }
    let bar_max = (WIDTH - LABEL_W - 80) as f64;
    for (i, (label, v, vt)) in rows.iter().map(|r| (&r.0, r.1, &r.2)).enumerate() {
        let y = 28 + ROW_H * i as u32;
        let w = ((v / max) * bar_max).max(1.0);
        let short: String = if label.chars().count() > 28 {
            label.chars().take(27).collect::<String>() + "…"
        } else {
            label.to_string()
        };
        s += &format!(
            r#"<g><title>{full}: {vt}</title><text x="{lx}" y="{ty}" class="cl" text-anchor="end">{short}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{bh}" class="bar"/><text x="{vx:.1}" y="{ty}" class="cv">{vt}</text></g>"#,
            full = esc(label),
            vt = esc(vt),
            short = esc(&short),
            lx = LABEL_W - 6,
            ty = y + 14,
            bx = LABEL_W,
            bh = ROW_H - 6,
            vx = LABEL_W as f64 + w + 4.0,
        );
    }
    s + "</svg>"
}

/// A column chart over time: `(bucket start label, value)` in order.
pub fn columns(id: &str, title: &str, unit: &str, cols: &[(String, f64)]) -> String {
    let h = 180u32;
    let plot_h = 120.0;
    let max = cols.iter().map(|c| c.1).fold(0.0_f64, f64::max).max(1e-9);
    let mut s = format!(
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}"><title>{t}</title><text x="0" y="16" class="ct">{t}</text>"#,
        t = esc(title)
    );
    if cols.is_empty() {
        return s + r#"<text x="0" y="42" class="cl">nothing to show</text></svg>"#;
    }
    let n = cols.len() as f64;
    let cw = (WIDTH as f64 - 40.0) / n;
    for (i, (label, v)) in cols.iter().enumerate() {
        let bh = (v / max * plot_h).max(if *v > 0.0 { 1.0 } else { 0.0 });
        let x = 30.0 + i as f64 * cw;
        s += &format!(
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{bh:.1}" class="bar"><title>{l}: {v} {u}</title></rect>"#,
            y = 28.0 + plot_h - bh,
            w = (cw - 1.0).max(0.5),
            l = esc(label),
            u = esc(unit),
        );
    }
    s += &format!(
        r#"<text x="0" y="34" class="cv">{max}</text><line x1="30" y1="148" x2="{x2}" y2="148" class="axis"/><text x="30" y="166" class="cl">{a}</text><text x="{x2}" y="166" class="cl" text-anchor="end">{b}</text><text x="{mid}" y="178" class="cl" text-anchor="middle">{u}</text>"#,
        max = max as u64,
        x2 = WIDTH - 10,
        a = esc(&cols[0].0),
        b = esc(&cols[cols.len() - 1].0),
        mid = WIDTH / 2,
        u = esc(unit),
    );
    s + "</svg>"
}

/// One series of a [`stacked`] chart: its label and one value per column.
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
}

/// Stacked columns over time (one column per label in `cols`, one band per series, at most
/// 8 series with the colour classes `s0`..`s7`), with a legend, and the least-squares line
/// of the column totals when `trend` is set. Every band carries a `<title>` tooltip, and the
/// legend names every colour, so no meaning rests on colour alone.
pub fn stacked(
    id: &str,
    title: &str,
    unit: &str,
    cols: &[String],
    series: &[Series],
    trend: bool,
) -> String {
    let series = &series[..series.len().min(8)];
    let legend_rows = series.len().div_ceil(3) as u32;
    let plot_top = 28.0;
    let plot_h = 150.0;
    let h = 28 + 150 + 34 + 18 * legend_rows;
    let mut s = format!(
        r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h}" viewBox="0 0 {WIDTH} {h}"><title>{t}</title><text x="0" y="16" class="ct">{t}</text>"#,
        t = esc(title)
    );
    let totals: Vec<f64> = (0..cols.len())
        .map(|i| {
            series
                .iter()
                .map(|x| x.values.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    if cols.is_empty() || totals.iter().all(|&t| t == 0.0) {
        return s + r#"<text x="0" y="42" class="cl">nothing to show</text></svg>"#;
    }
    let max = totals.iter().copied().fold(0.0_f64, f64::max).max(1e-9);
    let n = cols.len() as f64;
    let left = 40.0;
    let cw = (WIDTH as f64 - left - 10.0) / n;
    for (i, col) in cols.iter().enumerate() {
        let x = left + i as f64 * cw;
        let mut top = plot_top + plot_h;
        for (k, x_series) in series.iter().enumerate() {
            let v = x_series.values.get(i).copied().unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let bh = (v / max * plot_h).max(1.0);
            top -= bh;
            s += &format!(
                r#"<rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{bh:.1}" class="s{k}"><title>{c} — {l}: {v} {u}</title></rect>"#,
                w = (cw - 1.0).max(0.5),
                c = esc(col),
                l = esc(&x_series.label),
                u = esc(unit),
            );
        }
    }
    let base = plot_top + plot_h;
    s += &format!(
        r#"<text x="0" y="{ty:.0}" class="cv">{max}</text><line x1="{left}" y1="{base}" x2="{x2}" y2="{base}" class="axis"/><text x="{left}" y="{ly}" class="cl">{a}</text><text x="{x2}" y="{ly}" class="cl" text-anchor="end">{b}</text>"#,
        ty = plot_top + 6.0,
        max = max as u64,
        x2 = WIDTH - 10,
        ly = base + 16.0,
        a = esc(&cols[0]),
        b = esc(&cols[cols.len() - 1]),
    );
    if trend && cols.len() >= 2 {
        let (slope, icpt) = least_squares(&totals);
        let y = |i: f64| (base - (icpt + slope * i) / max * plot_h).clamp(plot_top, base);
        let (x1, x2) = (left + cw / 2.0, left + (n - 0.5) * cw);
        s += &format!(
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="trend"><title>trend: {sl:+.2} {u} per column</title></line>"#,
            y1 = y(0.0),
            y2 = y(n - 1.0),
            sl = slope,
            u = esc(unit),
        );
    }
    for (k, x_series) in series.iter().enumerate() {
        let lx = (k % 3) as f64 * 180.0;
        let ly = base + 34.0 + (k / 3) as f64 * 18.0;
        let short: String = if x_series.label.chars().count() > 22 {
            x_series.label.chars().take(21).collect::<String>() + "…"
        } else {
            x_series.label.clone()
        };
        s += &format!(
            r#"<rect x="{lx:.0}" y="{ry:.0}" width="12" height="12" class="s{k}"/><text x="{tx:.0}" y="{ly:.0}" class="cl">{l}</text>"#,
            ry = ly - 10.0,
            tx = lx + 16.0,
            l = esc(&short),
        );
    }
    s + "</svg>"
}

/// Slope and intercept of the least-squares line through `(i, y[i])`.
pub fn least_squares(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    if y.len() < 2 {
        return (0.0, y.first().copied().unwrap_or(0.0));
    }
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale() {
        let s = bars(
            "c",
            "by <company>",
            &[
                ("<script>alert(1)</script>".into(), 10.0, "10".into()),
                ("b".into(), 5.0, "5".into()),
            ],
        );
        assert!(!s.contains("<script>"));
        assert!(s.contains("&lt;company&gt;"));
        assert!(
            s.contains(r#"width="290.0""#) && s.contains(r#"width="145.0""#),
            "{s}"
        );
        let c = columns(
            "t",
            "time",
            "exposures",
            &[("a".into(), 1.0), ("b".into(), 2.0)],
        );
        assert_eq!(c.matches("<rect").count(), 2);
    }

    #[test]
    fn stacked_columns_stack_label_and_fit_a_falling_trend() {
        let cols: Vec<String> = ["d1", "d2", "d3"].iter().map(|s| s.to_string()).collect();
        let series = [
            Series {
                label: "<alibaba>".into(),
                values: vec![4.0, 2.0, 0.0],
            },
            Series {
                label: "huawei".into(),
                values: vec![2.0, 1.0, 1.0],
            },
        ];
        let s = stacked("x", "assets", "assets", &cols, &series, true);
        assert!(s.contains("&lt;alibaba&gt;") && !s.contains("<alibaba>"));
        // Five bands (one value is zero) plus two legend squares.
        assert_eq!(s.matches("<rect").count(), 7, "{s}");
        // The tallest column (6) spans the whole plot height.
        assert!(
            s.contains(r#"height="100.0" class="s0""#) && s.contains(r#"height="50.0" class="s1""#),
            "{s}"
        );
        assert!(s.contains("trend: -2.50 assets per column"), "{s}");
        assert_eq!(least_squares(&[1.0, 2.0, 3.0]), (1.0, 1.0));
        let empty = stacked("y", "none", "assets", &cols, &[], true);
        assert!(empty.contains("nothing to show"));
    }
}
