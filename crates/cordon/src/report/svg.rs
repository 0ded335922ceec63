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
}
