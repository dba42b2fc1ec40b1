//! Customer metrics from transactions: the per-customer summary the
//! lifetime-value literature works from, the BG/NBD purchase model (Fader,
//! Hardie & Lee 2005), the Gamma-Gamma spend model (Fader & Hardie 2013) and
//! customer lifetime value; retention, churn, repeat purchase, growth and RFM.

pub mod activity;
pub mod bgnbd;
pub mod gamma_gamma;
pub mod rfm;
pub mod summary;
