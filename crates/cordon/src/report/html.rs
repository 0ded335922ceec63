//! The HTML report: one self-contained file (inline CSS, inline SVG, a little inline
//! JavaScript for sorting and filtering), readable offline and in air-gapped networks.
//!
//! **Every string from the JSONL goes through [`esc`](super::escape::esc)**, and only `http`/`https` URLs become
//! links. A Content-Security-Policy meta tag forbids the browser any fetch at all.

use super::escape::{esc, link};
use super::{human_bytes, parse_time, svg, ScanData};
use crate::model::{DesignationRef, Evidence, Finding, Severity};
use std::collections::BTreeMap;
use std::fmt::Write;

const CSS: &str = r#"
:root{--fg:#1d2430;--mut:#5b6675;--bd:#d9dee5;--bg:#f6f8fa;--crit:#8e0f1a;--high:#c2410c;--med:#a16207;--low:#2f6f9f;--info:#5b6675}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--fg);margin:0;padding:24px 32px;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--bd);padding-bottom:4px}
.meta{color:var(--mut)}.warn{background:#fff4e5;border:1px solid #f0b46a;padding:8px 12px;border-radius:6px;margin:12px 0}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid var(--bd);border-radius:8px;padding:10px 14px;min-width:120px;background:var(--bg)}
.card b{display:block;font-size:22px}.sev{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.sev-critical{background:var(--crit)}.sev-high{background:var(--high)}.sev-medium{background:var(--med)}.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.chart .ct{font-weight:600;font-size:13px}.chart .cl{font-size:11px;fill:var(--fg)}.chart .cv{font-size:11px;fill:var(--mut)}.chart .bar{fill:#3b6ea8}.chart .axis{stroke:var(--bd)}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--bd);padding:5px 6px;text-align:left;vertical-align:top}
th{background:var(--bg);cursor:pointer;user-select:none;white-space:nowrap}th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
tr.waived td{opacity:.6}code{font-size:12px;word-break:break-all}details summary{cursor:pointer;color:#3b6ea8}
.ev li{margin:2px 0}.filters{display:flex;gap:10px;align-items:center;margin:8px 0;flex-wrap:wrap}input[type=search]{padding:4px 8px;min-width:260px}
@media print{.filters{display:none}details{display:block}}
"#;

const JS: &str = r#"
(function(){
  var t=document.getElementById('findings'); if(!t) return;
  var body=t.tBodies[0], q=document.getElementById('q'), sev=document.getElementById('minsev'), hw=document.getElementById('hidewaived'), n=document.getElementById('shown');
  function filter(){
    var s=q.value.toLowerCase(), m=+sev.value, c=0;
    for(var r of body.rows){
      var ok=r.textContent.toLowerCase().indexOf(s)>=0 && +r.dataset.sev>=m && !(hw.checked && r.classList.contains('waived'));
      r.hidden=!ok; if(ok) c++;
    }
    n.textContent=c;
  }
  [q,sev,hw].forEach(function(e){e.addEventListener('input',filter);e.addEventListener('change',filter);});
  Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){
      var asc=th.getAttribute('aria-sort')!=='ascending';
      Array.prototype.forEach.call(t.tHead.rows[0].cells,function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[i].dataset.k||a.cells[i].textContent, y=b.cells[i].dataset.k||b.cells[i].textContent;
        var nx=parseFloat(x), ny=parseFloat(y), r=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);
        return asc?r:-r;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
  filter();
})();
"#;

fn evidence_item(e: &Evidence) -> String {
    let mut s = format!(
        "<li><b>{}</b>: <code>{}</code>",
        esc(&e.kind),
        esc(&e.value)
    );
    if let Some(src) = &e.source {
        s += " — ";
        s += &link(src, src);
    }
    if let Some(d) = &e.date {
        let _ = write!(s, " ({})", esc(d));
    }
    s + "</li>"
}

fn designation_item(d: &DesignationRef) -> String {
    format!(
        "<li>{} <b>{}</b> since {} (holder <code>{}</code>) — {}</li>",
        esc(d.status.as_str()),
        esc(&d.list),
        esc(&d.date),
        esc(&d.holder),
        link(&d.source, "official source")
    )
}

fn finding_row(f: &Finding) -> String {
    let rank = f.rank().level();
    let mut lists: Vec<&str> = f.designations.iter().map(|d| d.list.as_str()).collect();
    lists.sort();
    lists.dedup();
    let mut chain = String::from("<details><summary>evidence</summary>");
    chain += "<p><b>Remediation:</b> ";
    chain += &esc(&f.remediation);
    chain += "</p>";
    if let Some(w) = &f.waiver {
        let _ = write!(chain, "<p><b>Waived:</b> {}</p>", esc(w));
    }
    chain += "<p><b>Evidence chain</b></p><ol class=\"ev\">";
    for e in &f.evidence {
        chain += &evidence_item(e);
    }
    chain += "</ol><p><b>Designations</b></p><ul class=\"ev\">";
    for d in &f.designations {
        chain += &designation_item(d);
    }
    chain += "</ul><p><b>Regulatory context</b></p><ul class=\"ev\">";
    for r in &f.regulations {
        let _ = write!(
            chain,
            "<li><b>{}</b> ({}), {}: {} — {}</li>",
            esc(&r.title),
            esc(&r.citation),
            esc(&r.date),
            esc(&r.note),
            link(&r.source, "source")
        );
    }
    chain += "</ul></details>";
    let regs: Vec<&str> = {
        let mut v: Vec<&str> = f.regulations.iter().map(|r| r.id.as_str()).collect();
        v.dedup();
        v
    };
    format!(
        r#"<tr class="{cls}" data-sev="{rank}"><td data-k="{rank}"><span class="sev sev-{sev}">{sev}</span></td><td><code>{asset}</code></td><td class="asset-name">{name}</td><td class="company">{entity}<br><span class="meta">{group}</span></td><td>{rel}</td><td>{rule}</td><td>{lists}</td><td>{regs}</td><td data-k="{bytes}">{hb}</td><td>{waived}</td><td><code>{id}</code>{chain}</td></tr>"#,
        cls = if f.waived { "waived" } else { "" },
        sev = esc(f.severity.as_str()),
        asset = esc(&f.asset),
        name = esc(f.asset_name.as_deref().unwrap_or("")),
        entity = esc(&f.entity),
        group = esc(&f.group),
        rel = esc(f.relationship.as_str()),
        rule = esc(&f.rule),
        lists = esc(&lists.join(", ")),
        regs = esc(&regs.join(", ")),
        bytes = f.bytes_out,
        hb = if f.bytes_out > 0 {
            human_bytes(f.bytes_out)
        } else {
            String::new()
        },
        waived = if f.waived { "waived" } else { "" },
        id = esc(&f.id),
    )
}

/// Active exposures per time bucket (hours when the scan spans up to three days, else days).
fn over_time(d: &ScanData) -> (Vec<(String, f64)>, &'static str) {
    let spans: Vec<(i64, i64)> = d
        .exposures
        .iter()
        .filter_map(|e| Some((parse_time(&e.first_seen)?, parse_time(&e.last_seen)?)))
        .filter(|(a, b)| a <= b)
        .collect();
    let (Some(lo), Some(hi)) = (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) else {
        return (vec![], "");
    };
    let (step, unit) = if hi - lo <= 3 * 86_400 {
        (3600, "exposures active per hour (UTC)")
    } else {
        (86_400, "exposures active per day (UTC)")
    };
    let start = lo - lo.rem_euclid(step);
    let n = (((hi - start) / step) + 1).clamp(1, 400) as usize;
    let mut counts = vec![0f64; n];
    for (a, b) in spans {
        let i0 = ((a - start) / step) as usize;
        let i1 = (((b - start) / step) as usize).min(n - 1);
        for c in counts.iter_mut().take(i1 + 1).skip(i0) {
            *c += 1.0;
        }
    }
    let label = |t: i64| {
        let day = crate::date::format_days(t.div_euclid(86_400));
        if step == 3600 {
            format!("{day} {:02}:00", t.rem_euclid(86_400) / 3600)
        } else {
            day
        }
    };
    (
        counts
            .into_iter()
            .enumerate()
            .map(|(i, c)| (label(start + i as i64 * step), c))
            .collect(),
        unit,
    )
}

/// Renders the whole report.
pub fn render(d: &ScanData, source_name: &str) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
    h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
    h += "<meta name=\"referrer\" content=\"no-referrer\">";
    let _ = write!(
        h,
        "<title>cordon report — {}</title><style>{CSS}</style></head><body>",
        esc(source_name)
    );
    h += "<h1>cordon exposure report</h1>";
    let s = d.summary.as_ref();
    let _ = write!(
        h,
        "<p class=\"meta\">Scan <code>{}</code>{}{}</p>",
        esc(source_name),
        s.map(|s| format!(
            ", run {} by cordon {}",
            esc(&s.scanned_at),
            esc(&s.cordon_version)
        ))
        .unwrap_or_default(),
        s.and_then(|s| Some(format!(
            ", traffic from {} to {}",
            esc(s.first_seen.as_deref()?),
            esc(s.last_seen.as_deref()?)
        )))
        .unwrap_or_default()
    );
    if d.truncated || !d.problems.is_empty() {
        h += "<div class=\"warn\" id=\"truncated\"><b>";
        h += if d.truncated {
            "This scan output is incomplete; the report shows what it has."
        } else {
            "Some lines of the scan output could not be read."
        };
        h += "</b><ul>";
        for p in &d.problems {
            let _ = write!(h, "<li>{}</li>", esc(p));
        }
        h += "</ul></div>";
    }
    if d.derived_findings {
        h += "<div class=\"warn\">The scan wrote no findings (it ran without <code>--assets</code>/<code>--policy</code>): findings below were computed with the built-in policy and no asset inventory.</div>";
    }

    // Executive summary.
    h += "<h2 id=\"summary\">Executive summary</h2>";
    let counts = d.counts();
    let unwaived: usize = counts.iter().map(|c| c.1).sum();
    let waived: usize = counts.iter().map(|c| c.2).sum();
    let mut assets: Vec<String> = d
        .findings
        .iter()
        .map(|f| match &f.asset_name {
            Some(n) => format!("{n} ({})", f.asset),
            None => f.asset.clone(),
        })
        .collect();
    assets.sort();
    assets.dedup();
    let companies = d.companies();
    let top = counts.iter().find(|c| c.1 > 0);
    let _ = write!(
        h,
        "<p>{} open finding{} ({} waived) on <b>{}</b> internal asset{} involving <b>{}</b> compan{} of concern: {}.{}</p>",
        unwaived,
        if unwaived == 1 { "" } else { "s" },
        waived,
        assets.len(),
        if assets.len() == 1 { "" } else { "s" },
        companies.len(),
        if companies.len() == 1 { "y" } else { "ies" },
        esc(&companies.join(", ")),
        top.map(|t| format!(" The most severe open findings are <span class=\"sev sev-{0}\">{0}</span> ({1}).", t.0, t.1)).unwrap_or_default()
    );
    h += "<div class=\"cards\">";
    for (sev, open, w) in &counts {
        let _ =
            write!(
            h,
            "<div class=\"card\"><span class=\"sev sev-{sev}\">{sev}</span><b>{open}</b>{}</div>",
            if *w > 0 { format!("<span class=\"meta\">+{w} waived</span>") } else { String::new() }
        );
    }
    let total_out: u64 = d.exposures.iter().map(|e| e.bytes_out).sum();
    let _ = write!(
        h,
        "<div class=\"card\">exposures<b>{}</b></div><div class=\"card\">devices of concern<b>{}</b></div><div class=\"card\">sent to them<b>{}</b></div></div>",
        d.exposures.len(),
        d.devices.iter().filter(|x| x.entity.is_some()).count(),
        human_bytes(total_out)
    );
    let critical: Vec<&Finding> = d
        .findings
        .iter()
        .filter(|f| !f.waived && f.rank() >= Severity::High)
        .take(8)
        .collect();
    if !critical.is_empty() {
        h += "<p><b>Act first:</b></p><ul id=\"top-findings\">";
        for f in critical {
            let _ = write!(
                h,
                "<li><span class=\"sev sev-{}\">{}</span> <b>{}</b> <code>{}</code> → {} ({}, {}): {}</li>",
                esc(f.severity.as_str()),
                esc(f.severity.as_str()),
                esc(f.asset_name.as_deref().unwrap_or("")),
                esc(&f.asset),
                esc(&f.entity),
                esc(f.relationship.as_str()),
                esc(&f.rule),
                esc(&f.remediation)
            );
        }
        h += "</ul>";
    }
    if let Some(s) = s {
        if !s.expired_waivers.is_empty() {
            h += "<p><b>Expired waivers</b> (they no longer waive anything; renew or remove them):</p><ul id=\"expired-waivers\">";
            for w in &s.expired_waivers {
                let _ = write!(
                    h,
                    "<li><code>{}</code> {} {} {} — expired {}: {} ({} finding{})</li>",
                    esc(&w.at),
                    esc(w.asset.as_deref().unwrap_or("")),
                    esc(w.group.as_deref().unwrap_or("")),
                    esc(w.entity.as_deref().unwrap_or("")),
                    esc(&w.expires),
                    esc(&w.reason),
                    w.matched,
                    if w.matched == 1 { "" } else { "s" }
                );
            }
            h += "</ul>";
        }
    }

    // Charts.
    h += "<h2 id=\"charts\">Charts</h2><div class=\"charts\">";
    let mut by_company: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_asset: BTreeMap<String, u64> = BTreeMap::new();
    let names: BTreeMap<&str, &str> = d
        .findings
        .iter()
        .filter_map(|f| Some((f.asset.as_str(), f.asset_name.as_deref()?)))
        .collect();
    for e in &d.exposures {
        *by_company.entry(&e.group).or_default() += e.bytes_out + e.bytes_in;
        let label = match names.get(e.asset.as_str()) {
            Some(n) => format!("{n} ({})", e.asset),
            None => e.asset.clone(),
        };
        *by_asset.entry(label).or_default() += e.bytes_out + e.bytes_in;
    }
    let ranked = |m: BTreeMap<String, u64>| {
        let mut v: Vec<(String, f64, String)> = m
            .into_iter()
            .map(|(k, b)| (k, b as f64, human_bytes(b)))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    };
    h += &svg::bars(
        "chart-company",
        "Exposure by company (bytes both ways)",
        &ranked(
            by_company
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        ),
    );
    h += &svg::bars(
        "chart-asset",
        "Exposure by asset (bytes both ways)",
        &ranked(by_asset),
    );
    let (cols, unit) = over_time(d);
    h += &svg::columns("chart-time", "Exposure over time", unit, &cols);
    let mut makers: BTreeMap<String, u64> = BTreeMap::new();
    for x in d.devices.iter().filter(|x| x.entity.is_some()) {
        let m = x
            .group
            .clone()
            .or_else(|| x.maker.clone())
            .unwrap_or_else(|| "unknown".into());
        *makers.entry(m).or_default() += 1;
    }
    let mut mk: Vec<(String, f64, String)> = makers
        .into_iter()
        .map(|(k, n)| {
            (
                k,
                n as f64,
                format!("{n} device{}", if n == 1 { "" } else { "s" }),
            )
        })
        .collect();
    mk.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    h += &svg::bars("chart-makers", "Devices by maker", &mk);
    h += "</div>";

    // Findings table.
    let _ = write!(
        h,
        "<h2 id=\"findings-h\">Findings</h2><div class=\"filters\"><input type=\"search\" id=\"q\" placeholder=\"filter: asset, company, rule…\" aria-label=\"filter\"><label>at least <select id=\"minsev\"><option value=\"0\">info</option><option value=\"1\">low</option><option value=\"2\">medium</option><option value=\"3\">high</option><option value=\"4\">critical</option></select></label><label><input type=\"checkbox\" id=\"hidewaived\"> hide waived</label><span class=\"meta\"><span id=\"shown\">{}</span> of {} shown</span></div>",
        d.findings.len(),
        d.findings.len()
    );
    h += "<table id=\"findings\"><thead><tr><th>severity</th><th>asset</th><th>name</th><th>company</th><th>relationship</th><th>rule</th><th>lists</th><th>regulations</th><th>sent</th><th>waived</th><th>id / evidence</th></tr></thead><tbody>";
    for f in &d.findings {
        h += &finding_row(f);
    }
    h += "</tbody></table>";

    // Devices.
    let devs: Vec<_> = d.devices.iter().filter(|x| x.entity.is_some()).collect();
    if !devs.is_empty() {
        h += "<h2 id=\"devices\">Devices of concern</h2><table><thead><tr><th>MAC</th><th>address</th><th>maker</th><th>company</th><th>host name</th><th>vendor class</th><th>lists</th><th>seen</th></tr></thead><tbody>";
        for x in devs {
            let mut lists: Vec<&str> = x.designations.iter().map(|d| d.list.as_str()).collect();
            lists.sort();
            lists.dedup();
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td class=\"company\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td></tr>",
                esc(&x.mac),
                esc(x.ip.as_deref().unwrap_or("")),
                esc(x.maker.as_deref().unwrap_or("")),
                esc(x.entity.as_deref().unwrap_or("")),
                esc(x.host_name.as_deref().unwrap_or("")),
                esc(x.vendor_class.as_deref().unwrap_or("")),
                esc(&lists.join(", ")),
                esc(&x.first_seen),
                esc(&x.last_seen)
            );
        }
        h += "</tbody></table>";
    }

    // Threat-indicator matches.
    if !d.indicator_matches.is_empty() {
        h += "<h2 id=\"indicators\">Threat-indicator matches</h2><table><thead><tr><th>asset</th><th>remote</th><th>indicator</th><th>name</th><th>source</th><th>count</th><th>seen</th></tr></thead><tbody>";
        for m in &d.indicator_matches {
            let what = m
                .indicator
                .pattern
                .as_deref()
                .or(m.indicator.value.as_deref())
                .unwrap_or("");
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code><br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td></tr>",
                esc(&m.asset),
                esc(&m.remote),
                esc(&m.indicator.id),
                esc(what),
                esc(m.indicator.name.as_deref().unwrap_or("")),
                esc(&m.indicator.source),
                m.count,
                esc(&m.first_seen),
                esc(&m.last_seen)
            );
        }
        h += "</tbody></table>";
    }

    // Datasets.
    h += "<h2 id=\"datasets\">Datasets used</h2>";
    match s {
        Some(s) if !s.datasets.is_empty() => {
            h += "<table><thead><tr><th>dataset</th><th>date</th></tr></thead><tbody>";
            for ds in &s.datasets {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td></tr>",
                    esc(&ds.id),
                    esc(&ds.date)
                );
            }
            h += "</tbody></table>";
        }
        _ => h += "<p class=\"meta\">The scan output names no datasets (no summary record).</p>",
    }
    let mut lists: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for dr in d.findings.iter().flat_map(|f| f.designations.iter()) {
        lists
            .entry((dr.list.as_str(), dr.date.as_str()))
            .or_insert(dr.source.as_str());
    }
    if !lists.is_empty() {
        h += "<p>Designation dates behind these findings:</p><ul>";
        for ((l, date), src) in lists {
            let _ = write!(
                h,
                "<li><b>{}</b> {} — {}</li>",
                esc(l),
                esc(date),
                link(src, "source")
            );
        }
        h += "</ul>";
    }
    h += "<p class=\"meta\">Generated by cordon. This file is self-contained and makes no network requests; links open official sources only when you click them.</p>";
    let _ = writeln!(h, "<script>{JS}</script></body></html>");
    h
}
