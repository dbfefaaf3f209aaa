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
    fn resolutions() {
        assert_eq!(Resolution::Standard.seconds(), 60);
        assert_eq!(Resolution::High.seconds(), 1);
    }
}
