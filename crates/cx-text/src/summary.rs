//! Summaries over many analysed texts: positive / neutral / negative counts
//! overall and per topic, and the main problems (key phrases of negative
//! texts by frequency).

use serde::Serialize;

use crate::phrases::{Problem, main_problems};
use crate::{Analysis, Polarity};

/// Counts of each polarity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PolarityCounts {
    /// Texts (or mentions).
    pub n: u64,
    /// Positive ones.
    pub positive: u64,
    /// Neutral ones.
    pub neutral: u64,
    /// Negative ones.
    pub negative: u64,
}

impl PolarityCounts {
    /// Count one.
    pub fn add(&mut self, p: Polarity) {
        self.n += 1;
        match p {
            Polarity::Positive => self.positive += 1,
            Polarity::Neutral => self.neutral += 1,
            Polarity::Negative => self.negative += 1,
        }
    }
}

/// One topic's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSummary {
    /// The topic id.
    pub topic: String,
    /// Texts mentioning it, by that topic's own sentiment.
    #[serde(flatten)]
    pub counts: PolarityCounts,
    /// Share of those texts negative about it, percent.
    pub negative_pct: f64,
}

impl std::ops::Deref for TopicSummary {
    type Target = PolarityCounts;
    fn deref(&self) -> &PolarityCounts {
        &self.counts
    }
}

/// The summary of a set of analyses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Overall sentiment counts.
    pub overall: PolarityCounts,
    /// Topics, most negative mentions first.
    pub topics: Vec<TopicSummary>,
    /// The main problems, most frequent first.
    pub problems: Vec<Problem>,
}

impl Summary {
    /// Summarise analyses, keeping the `limit` most frequent problems.
    pub fn of<'a>(analyses: impl Iterator<Item = &'a Analysis> + Clone, limit: usize) -> Summary {
        let mut overall = PolarityCounts::default();
        let mut topics: Vec<(String, PolarityCounts)> = Vec::new();
        for a in analyses.clone() {
            overall.add(a.sentiment);
            for t in &a.topics {
                match topics.iter_mut().find(|(id, _)| *id == t.topic) {
                    Some((_, c)) => c.add(t.sentiment),
                    None => {
                        let mut c = PolarityCounts::default();
                        c.add(t.sentiment);
                        topics.push((t.topic.clone(), c));
                    }
                }
            }
        }
        let mut topics: Vec<TopicSummary> = topics
            .into_iter()
            .map(|(topic, counts)| {
                let negative_pct = 100.0 * counts.negative as f64 / counts.n.max(1) as f64;
                TopicSummary {
                    topic,
                    counts,
                    negative_pct,
                }
            })
            .collect();
        topics.sort_by(|a, b| {
            b.negative
                .cmp(&a.negative)
                .then(b.n.cmp(&a.n))
                .then(a.topic.cmp(&b.topic))
        });
        Summary {
            overall,
            topics,
            problems: main_problems(analyses, limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Analyzer;

    #[test]
    fn counts_topics_and_problems() {
        let analyzer = Analyzer::builtin();
        let texts = [
            "物流太慢了，等了一个星期",
            "物流很快，包装完好",
            "快递太慢，而且包装破了",
            "质量很好",
        ];
        let analyses: Vec<Analysis> = texts.iter().map(|t| analyzer.analyze(t)).collect();
        let summary = Summary::of(analyses.iter(), 5);
        assert_eq!(summary.overall.n, 4);
        let delivery = summary
            .topics
            .iter()
            .find(|t| t.topic == "delivery")
            .expect("delivery counted");
        assert_eq!(delivery.n, 3);
        assert_eq!(delivery.negative, 2);
        assert!(
            summary
                .problems
                .iter()
                .any(|p| p.phrase == "物流" || p.phrase == "快递"),
            "{:?}",
            summary.problems
        );
    }
}
