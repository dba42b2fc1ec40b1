//! A small lexicon of how customers praise and complain in survey comments,
//! written by the team for words the review corpora lack or misread:
//! internet slang (`yyds`, `绝绝子`, `拉胯`), praise by denial (`没毛病`,
//! `零故障`, `zero downtime`, `no hidden fees`) and plain business phrases
//! (`省心`, `靠谱`, `rock solid`, `still waiting`). Each match moves a
//! clause's logit by the calibrated `Calibration::lexicon`.
//!
//! English phrases match at word boundaries; a litote — a negator (`no`,
//! `zero`, `without`, `never`, `barely any`) right before a negative word of
//! the VADER lexicon — counts as praise.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Praise.
const POSITIVE: &[&str] = &[
    // Chinese
    "没毛病",
    "没问题",
    "没出过问题",
    "没出过什么问题",
    "没出现过问题",
    "没出什么问题",
    "零故障",
    "无故障",
    "没有故障",
    "没坏过",
    "无破损",
    "完好无损",
    "完好",
    "从没延误",
    "没延误过",
    "没踩雷",
    "省心",
    "放心",
    "靠谱",
    "给力",
    "很稳",
    "稳定",
    "干脆",
    "利索",
    "麻利",
    "神速",
    "秒回",
    "yyds",
    "绝绝子",
    "好评",
    "点赞",
    "赞",
    "必须好评",
    "回购",
    "无限回购",
    "推荐",
    "强烈推荐",
    "满意",
    "超值",
    "物超所值",
    "物美价廉",
    "划算",
    "性价比高",
    "一看就懂",
    "一目了然",
    "清楚",
    "清晰",
    "准时",
    "按时",
    "提前到",
    "及时",
    "耐心",
    "专业",
    "贴心",
    "周到",
    "热情",
    "到位",
    "顺利",
    "惊喜",
    "超出预期",
    "值得",
    "真香",
    "太香",
    "好用",
    "方便",
    "快捷",
    "高效",
    "上手快",
    "免息",
    // English
    "rock solid",
    "solid",
    "no issues",
    "no problems",
    "no complaints",
    "zero issues",
    "flawless",
    "flawlessly",
    "seamless",
    "seamlessly",
    "hassle-free",
    "hassle free",
    "a breeze",
    "breeze",
    "just works",
    "just work",
    "spot on",
    "on time",
    "as described",
    "exactly as described",
    "reliable",
    "responsive",
    "sturdy",
    "sturdier",
    "steal",
    "bargain",
    "great value",
    "intuitive",
    "transparent",
    "painless",
    "smooth",
    "smoothly",
    "sorted",
    "sorted out",
    "consistent",
    "consistently",
    "piping hot",
    "well packed",
    "well-packed",
    "well done",
    "above and beyond",
    "lifesaver",
    "life saver",
    "game changer",
    "top notch",
    "top-notch",
    "five stars",
    "5 stars",
    "highly recommend",
    "recommend",
    "love it",
    "loved it",
    "goat",
    "chef's kiss",
    "no-brainer",
];

/// Complaints.
const NEGATIVE: &[&str] = &[
    // Chinese
    "踩雷",
    "价格高",
    "价格偏高",
    "有点贵",
    "偏高",
    "太高",
    "避雷",
    "被坑",
    "巨坑",
    "很慢",
    "好慢",
    "真慢",
    "慢死",
    "偏贵",
    "坑人",
    "无语",
    "垃圾",
    "差劲",
    "拉胯",
    "离谱",
    "敷衍",
    "推诿",
    "不靠谱",
    "翻车",
    "智商税",
    "一直没",
    "还没",
    "迟迟",
    "没人",
    "没有人",
    "石沉大海",
    "不了了之",
    "踢皮球",
    "再也不",
    "在也不",
    "失望",
    "后悔",
    "糟糕",
    "太差",
    "很差",
    "极差",
    "差评",
    "投诉",
    "退货",
    "延误",
    "拖延",
    "破损",
    "压坏",
    "坏了",
    "故障",
    "卡顿",
    "闪退",
    "死机",
    "乱收费",
    "多扣",
    "扣错",
    "开错",
    "不对",
    "错了",
    "缺货",
    "少发",
    "漏发",
    "发错",
    "太慢",
    "太贵",
    "麻烦",
    "繁琐",
    "看不懂",
    "打不通",
    "没回复",
    "不回复",
    "不理",
    // English
    "a maze",
    "nowhere near",
    "waste",
    "waste of",
    "useless",
    "nightmare",
    "joke",
    "scam",
    "rip-off",
    "ripoff",
    "rip off",
    "still waiting",
    "still hasn't",
    "still haven't",
    "never arrived",
    "no one",
    "nobody",
    "no response",
    "no reply",
    "not once",
    "keeps crashing",
    "keep crashing",
    "broken",
    "broke",
    "defective",
    "faulty",
    "overcharged",
    "double charged",
    "charged twice",
    "wrong",
    "missing",
    "late",
    "delayed",
    "slipping",
    "damaged",
    "dented",
    "crushed",
    "leaking",
    "worst",
    "terrible",
    "awful",
    "horrible",
    "disappointing",
    "disappointed",
    "frustrating",
    "annoying",
    "unacceptable",
    "ridiculous",
    "confusing",
    "clunky",
    "buggy",
    "laggy",
    "overpriced",
    "rude",
    "unhelpful",
    "ignored",
    "on hold",
    "hung up",
    "cancel",
    "cancelling",
    "switching to",
];

/// English words that turn what follows around ("no issues", "not reliable").
const EN_DENIALS: &[&str] = &[
    "no",
    "zero",
    "without",
    "never",
    "free of",
    "barely any",
    "hardly any",
    "not a single",
    "not one",
    "not",
    "isn't",
    "wasn't",
    "aren't",
    "weren't",
    "don't",
    "doesn't",
    "didn't",
    "hardly",
    "not very",
    "not that",
    "not so",
    "isnt",
    "wasnt",
    "dont",
    "doesnt",
    "didnt",
];

/// Chinese negators that turn the phrase after them around ("不满意", "不麻烦").
const ZH_DENIALS: &[&str] = &[
    "不",
    "没",
    "没有",
    "不太",
    "不够",
    "不是很",
    "不怎么",
    "并不",
    "毫不",
    "不算",
];

struct Lexicon {
    automaton: AhoCorasick,
    /// For each pattern: +1 praise, −1 complaint.
    signs: Vec<i8>,
}

fn lexicon() -> &'static Lexicon {
    static LEXICON: OnceLock<Lexicon> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut words: Vec<(&str, i8)> = POSITIVE
            .iter()
            .map(|w| (*w, 1))
            .chain(NEGATIVE.iter().map(|w| (*w, -1)))
            .collect();
        words.sort_unstable();
        words.dedup_by(|a, b| a.0 == b.0);
        #[allow(clippy::expect_used)]
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(words.iter().map(|w| w.0))
            .expect("the lexicon builds (tested)");
        Lexicon {
            automaton,
            signs: words.iter().map(|w| w.1).collect(),
        }
    })
}

/// Is the phrase starting at byte `at` turned around by what precedes it?
fn denied(text: &str, at: usize, latin: bool) -> bool {
    if !latin {
        return ZH_DENIALS.iter().any(|d| text[..at].ends_with(d));
    }
    let before = text[..at].trim_end();
    if EN_DENIALS.iter().any(|d| {
        before.ends_with(d)
            && !before[..before.len() - d.len()].ends_with(|c: char| c.is_ascii_alphanumeric())
    }) {
        return true;
    }
    // Any negator word right before (wouldn't, can't, isn’t, cannot, …).
    let word = before
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .next()
        .unwrap_or("");
    crate::features::is_negator(&crate::features::plain(word))
}

/// Praise minus complaints in a (normalised) clause.
pub fn balance(text: &str) -> f32 {
    let lex = lexicon();
    let bytes = text.as_bytes();
    let mut total = 0i32;
    let mut covered: Vec<(usize, usize)> = Vec::new();
    for m in lex.automaton.find_iter(text) {
        let latin = bytes[m.start()].is_ascii_alphanumeric();
        if latin {
            let before = m.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end());
            // A number's digits run on through a decimal point ("1.5 stars").
            let number = bytes[m.start()].is_ascii_digit() && before == Some(b'.');
            if number
                || before.is_some_and(|b| b.is_ascii_alphanumeric())
                || after.is_some_and(|b| b.is_ascii_alphanumeric())
            {
                continue;
            }
        }
        let mut sign = i32::from(lex.signs[m.pattern().as_usize()]);
        if denied(text, m.start(), latin) {
            sign = -sign;
        }
        total += sign;
        covered.push((m.start(), m.end()));
    }
    // Litotes with complaint words the list lacks: "no hidden surcharges",
    // "zero outages" (VADER-negative words after a denial).
    let mut recent: [Option<&str>; 2] = [None, None];
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '\'' || c == '-')) {
        // The word's byte offset in `text` (it is a slice of it).
        let start = word.as_ptr() as usize - text.as_ptr() as usize;
        if word.is_empty() {
            continue;
        }
        // `covered` is in text order: the last match starting at or before the word.
        let k = covered.partition_point(|(a, _)| *a <= start);
        let inside = k > 0 && start < covered[k - 1].1;
        let denial =
            |w: Option<&str>| w.is_some_and(|w| matches!(w, "no" | "zero" | "without" | "never"));
        let complaint = crate::features::valence(word).is_some_and(|v| v < 0.0)
            || matches!(
                word,
                "outages" | "outage" | "downtime" | "surcharges" | "fees"
            );
        if complaint && !inside && (denial(recent[0]) || denial(recent[1])) {
            total += 1;
        }
        recent = [Some(word), recent[0]];
    }
    total as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn praise_complaints_and_litotes() {
        assert_eq!(balance("yyds"), 1.0);
        assert_eq!(balance("用了半年没毛病"), 1.0);
        assert!(balance("一直没人回复") < 0.0);
        assert_eq!(balance("不满意"), -1.0);
        assert_eq!(balance("一点也不麻烦"), 1.0);
        assert_eq!(balance("贵司的服务"), 0.0);
        assert_eq!(balance("not reliable"), -1.0);
        assert_eq!(balance("i wouldn't recommend it"), -1.0);
        assert_eq!(balance("isn’t reliable"), -1.0);
        assert_eq!(balance("1.5 stars"), 0.0);
        assert!(balance("rock solid, zero outages this year") > 0.0);
        assert!(balance("no hidden surcharges") > 0.0);
        assert!(balance("the invoice was wrong") < 0.0);
        assert_eq!(balance("wrongly"), 0.0);
        assert_eq!(balance("no issues at all"), 1.0);
    }
}
