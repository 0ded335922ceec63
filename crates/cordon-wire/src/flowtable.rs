//! (placeholder: flowtable decoder, not yet written)
