//! A horizontal bar chart drawn on the server as SVG (no script), with the same numbers in a
//! table beside it for screen readers and for copying.

use askama::Template;

use crate::domain::money::Money;

/// Pixels of the longest bar (the chart is 640 wide: 200 for labels, the rest for bars and
/// their amounts).
const LONGEST: i64 = 340;

/// One bar: a label, a count and an amount.
pub struct Bar {
    label: String,
    flattrs: i64,
    amount: String,
    y: i64,
    text_y: i64,
    width: i64,
    value_x: i64,
}

/// The chart of some amounts.
#[derive(Template)]
#[template(path = "chart.html")]
pub struct Chart {
    id: &'static str,
    title: String,
    what: &'static str,
    height: i64,
    bars: Vec<Bar>,
}

impl Chart {
    /// A chart `id` titled `title` of `(label, flattrs, amount)` rows; `what` names the labels'
    /// column. Bars are scaled to the largest amount, in exact integer arithmetic.
    pub fn new(
        id: &'static str,
        title: String,
        what: &'static str,
        rows: Vec<(String, i64, Money)>,
    ) -> Chart {
        let largest = rows.iter().map(|r| r.2.minor()).max().unwrap_or(0).max(1);
        let bars = rows
            .into_iter()
            .enumerate()
            .map(|(n, (label, flattrs, amount))| {
                let y = i64::try_from(n).unwrap_or(0) * 28 + 4;
                // At least one pixel, so that a small amount is still seen.
                let width = (i128::from(amount.minor().max(0)) * i128::from(LONGEST)
                    / i128::from(largest))
                .max(1);
                let width = i64::try_from(width).unwrap_or(LONGEST);
                Bar {
                    label,
                    flattrs,
                    amount: amount.to_string(),
                    y,
                    text_y: y + 15,
                    width,
                    value_x: 200 + width + 6,
                }
            })
            .collect::<Vec<_>>();
        Chart {
            id,
            title,
            what,
            height: i64::try_from(bars.len()).unwrap_or(0) * 28 + 8,
            bars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_amount_and_labels_are_escaped() {
        let chart = Chart::new(
            "c",
            "Earnings".into(),
            "Thing",
            vec![
                ("<b>big</b>".into(), 3, Money::from_minor(30_000)),
                ("small".into(), 1, Money::from_minor(10_000)),
            ],
        );
        assert_eq!(chart.bars[0].width, LONGEST);
        assert_eq!(chart.bars[1].width, LONGEST / 3);
        let html = chart.render().unwrap();
        assert!(
            html.contains("&#60;b&#62;big") || html.contains("&lt;b&gt;big"),
            "{html}"
        );
        assert!(!html.contains("<b>big"));
    }
}
