//! How configuration values are read exactly and how a bad one is described: decimals as the
//! text the admin wrote (never through a float), and errors that name the key, the value and
//! where it came from.

use std::str::FromStr;

use figment::Figment;
use figment::providers::Serialized;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A decimal in the configuration, written as a string (`fee_rate = "0.10"`) so that it is
/// read exactly. A TOML float is refused: no amount of money passes through a float.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "String")]
pub struct DecimalText(pub Decimal);

impl From<DecimalText> for String {
    fn from(value: DecimalText) -> String {
        value.0.to_string()
    }
}

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DecimalText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal written as a string, such as \"0.10\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DecimalText, E> {
                Decimal::from_str(v.trim()).map(DecimalText).map_err(|e| {
                    E::custom(format!(
                        "expected a decimal such as \"0.10\", not {v:?} ({e})"
                    ))
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<DecimalText, E> {
                Ok(DecimalText(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DecimalText, E> {
                Ok(DecimalText(Decimal::from(v)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Says which setting is wrong, what its value is and where it came from, one line per error:
/// figment's own text names the profile (`default.fee_rate`) and, for the decimals read from
/// the environment, a Rust type instead of the variable.
pub(super) fn describe(figment: &Figment, error: figment::Error) -> String {
    let mut lines = Vec::new();
    for error in error {
        let key = error.path.join(".").to_lowercase();
        let variable = format!("FEDFLATTR_{}", key.to_uppercase());
        let from_file = error
            .metadata
            .as_ref()
            .and_then(|m| m.source.as_ref())
            .and_then(|s| s.file_path().map(|p| format!("in {}", p.display())));
        let source = match from_file {
            Some(file) => file,
            None if std::env::var_os(&variable).is_some() => {
                format!("from environment variable {variable}")
            }
            None => error
                .metadata
                .as_ref()
                .map(|m| format!("from {}", m.name))
                .unwrap_or_default(),
        };
        let value = figment
            .find_value(&key)
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok());
        let problem = match &error.kind {
            figment::error::Kind::InvalidType(_, expected)
            | figment::error::Kind::InvalidValue(_, expected) => format!("expected {expected}"),
            kind => kind.to_string(),
        };
        lines.push(match (key.is_empty(), value) {
            (true, _) => problem,
            (false, Some(value)) => format!("{key} = {value} ({source}) is invalid: {problem}"),
            (false, None) => format!("{key} ({source}) is invalid: {problem}"),
        });
    }
    lines.join("; ")
}

/// The decimal settings from the environment, as the exact text the admin wrote: figment would
/// parse `FEDFLATTR_FEE_RATE=0.05` into a float.
pub(super) fn decimal_environment() -> Serialized<std::collections::BTreeMap<&'static str, String>>
{
    let mut values = std::collections::BTreeMap::new();
    for (key, variable) in [
        ("fee_rate", "FEDFLATTR_FEE_RATE"),
        ("min_budget", "FEDFLATTR_MIN_BUDGET"),
        ("payout_minimum", "FEDFLATTR_PAYOUT_MINIMUM"),
    ] {
        if let Ok(text) = std::env::var(variable) {
            values.insert(key, text);
        }
    }
    Serialized::defaults(values)
}
