//! CloudWatch units and storage resolutions.

use std::fmt;

macro_rules! units {
    ($($variant:ident => $text:literal),* $(,)?) => {
        /// A CloudWatch metric unit (the `StandardUnit` values), as EMF and PutMetricData spell it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[non_exhaustive]
        pub enum Unit {
            /// No unit.
            #[default]
            None,
            $(
                #[doc = concat!("`", $text, "`.")]
                $variant,
            )*
        }

        impl Unit {
            /// The unit as CloudWatch spells it (`"Milliseconds"`, `"Bytes/Second"`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    Unit::None => "None",
                    $(Unit::$variant => $text,)*
                }
            }

            /// Every unit, in CloudWatch's order.
            pub const ALL: &'static [Unit] = &[Unit::None, $(Unit::$variant,)*];

            /// The end of an EMF metric definition in this unit: `,"Unit":"..."}`, with
            /// `,"StorageResolution":1` before the `}` when `high`.
            #[inline(always)]
            pub(crate) fn emf_definition_end(self, high: bool) -> &'static str {
                match (self, high) {
                    (Unit::None, false) => ",\"Unit\":\"None\"}",
                    (Unit::None, true) => ",\"Unit\":\"None\",\"StorageResolution\":1}",
                    $(
                        (Unit::$variant, false) => concat!(",\"Unit\":\"", $text, "\"}"),
                        (Unit::$variant, true) => {
                            concat!(",\"Unit\":\"", $text, "\",\"StorageResolution\":1}")
                        }
                    )*
                }
            }
        }
    };
}

units! {
    Seconds => "Seconds",
    Microseconds => "Microseconds",
    Milliseconds => "Milliseconds",
    Bytes => "Bytes",
    Kilobytes => "Kilobytes",
    Megabytes => "Megabytes",
    Gigabytes => "Gigabytes",
    Terabytes => "Terabytes",
    Bits => "Bits",
    Kilobits => "Kilobits",
    Megabits => "Megabits",
    Gigabits => "Gigabits",
    Terabits => "Terabits",
    Percent => "Percent",
    Count => "Count",
    BytesPerSecond => "Bytes/Second",
    KilobytesPerSecond => "Kilobytes/Second",
    MegabytesPerSecond => "Megabytes/Second",
    GigabytesPerSecond => "Gigabytes/Second",
    TerabytesPerSecond => "Terabytes/Second",
    BitsPerSecond => "Bits/Second",
    KilobitsPerSecond => "Kilobits/Second",
    MegabitsPerSecond => "Megabits/Second",
    GigabitsPerSecond => "Gigabits/Second",
    TerabitsPerSecond => "Terabits/Second",
    CountPerSecond => "Count/Second",
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How finely CloudWatch stores a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Resolution {
    /// One-minute granularity (EMF `StorageResolution` 60, the default).
    #[default]
    Standard,
    /// One-second granularity (EMF `StorageResolution` 1): costs more, allows 10 s and 30 s alarms.
    High,
}

impl Resolution {
    /// The `StorageResolution` value: 60 or 1.
    pub fn seconds(self) -> u32 {
        match self {
            Resolution::Standard => 60,
            Resolution::High => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_spelled_as_cloudwatch_does() {
        assert_eq!(Unit::ALL.len(), 27);
        assert_eq!(Unit::BytesPerSecond.as_str(), "Bytes/Second");
        assert_eq!(Unit::CountPerSecond.to_string(), "Count/Second");
        assert_eq!(Unit::default(), Unit::None);
        let mut seen = std::collections::HashSet::new();
        assert!(Unit::ALL.iter().all(|u| seen.insert(u.as_str())));
    }

    #[test]
    fn definition_ends_name_the_unit_and_the_resolution() {
        for unit in Unit::ALL {
            let standard = format!(",\"Unit\":\"{unit}\"}}");
            assert_eq!(unit.emf_definition_end(false), standard);
            let high = format!(",\"Unit\":\"{unit}\",\"StorageResolution\":1}}");
            assert_eq!(unit.emf_definition_end(true), high);
        }
    }

    #[test]
    fn resolutions() {
        assert_eq!(Resolution::Standard.seconds(), 60);
        assert_eq!(Resolution::High.seconds(), 1);
    }
}
