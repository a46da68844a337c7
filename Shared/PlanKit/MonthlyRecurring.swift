import Foundation

/// The monthly value of a recurring price, exactly as METRICS.md normalises intervals.
public enum MonthlyRecurring {
    /// `unit_amount × quantity × factor`, where the factor turns one interval into months. Unknown intervals are 0.
    public static func amount(unitAmountCents: Int64, quantity: Int, interval: String, intervalCount: Int) -> Decimal {
        amount(cycleCents: Decimal(unitAmountCents) * Decimal(quantity), interval: interval, intervalCount: intervalCount)
    }

    /// What one billing cycle charges, as a monthly amount.
    public static func amount(cycleCents total: Decimal, interval: String, intervalCount: Int) -> Decimal {
        let count = Decimal(max(intervalCount, 1))
        switch interval {
        case "month": return total / count
        case "year": return total / (12 * count)
        case "week": return total * 52 / (12 * count)
        case "day": return total * 365 / (12 * count)
        default: return 0
        }
    }

    /// Rounds an exact amount of cents for display or storage, half away from zero.
    public static func rounded(_ cents: Decimal) -> Int64 {
        NSDecimalNumber(decimal: cents.rounded(places: 0)).int64Value
    }
}

extension Decimal {
    /// Rounded half away from zero to `places` decimal places.
    public func rounded(places: Int) -> Decimal {
        var exact = self
        var result = Decimal()
        NSDecimalRound(&result, &exact, places, .plain)
        return result
    }
}
