import Foundation

/// An amount in a currency's minor unit (cents for USD). Amounts in different currencies are never added.
public struct Money: Codable, Hashable, Sendable, CustomStringConvertible {
    public var amountCents: Int64
    /// ISO 4217, lowercase as Stripe writes it.
    public var currency: String

    public init(cents: Int64, currency: String) {
        self.amountCents = cents
        self.currency = currency.lowercased()
    }

    public static func usd(_ cents: Int64) -> Money { Money(cents: cents, currency: "usd") }

    public var description: String { "\(amountCents) \(currency)" }

    /// Stripe's zero-decimal currencies: their minor unit is the whole unit.
    public static let zeroDecimalCurrencies: Set<String> = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    ]
    /// Stripe's three-decimal currencies: a thousand minor units to the whole unit.
    public static let threeDecimalCurrencies: Set<String> = ["bhd", "jod", "kwd", "omr", "tnd"]

    /// Digits after the decimal point in the currency's major unit.
    public static func minorUnitDigits(_ currency: String) -> Int {
        let code = currency.lowercased()
        if zeroDecimalCurrencies.contains(code) { return 0 }
        return threeDecimalCurrencies.contains(code) ? 3 : 2
    }

    /// The amount in major units (dollars for USD), exact: built in base ten from the integer, never through `Double`.
    /// Encoded by `JSONEncoder` as a plain JSON number (`15750.5`), for clients that display major units.
    public var majorUnits: Decimal {
        Decimal(sign: amountCents < 0 ? .minus : .plus, exponent: -Self.minorUnitDigits(currency), significand: Decimal(amountCents.magnitude))
    }

    /// For people to read: `USD 12,500.00`, `JPY 1,250`.
    public var formatted: String {
        let digits = Self.minorUnitDigits(currency)
        var scale: UInt64 = 1
        for _ in 0..<digits { scale *= 10 }
        var whole = String(amountCents.magnitude / scale)
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole.removeLast(3)
        }
        let remainder = String(amountCents.magnitude % scale)
        let fraction = digits == 0 ? "" : "." + String(repeating: "0", count: digits - remainder.count) + remainder
        return "\(currency.uppercased()) \(amountCents < 0 ? "-" : "")\(whole)\(grouped)\(fraction)"
    }

    enum CodingKeys: String, CodingKey {
        case amountCents = "amount_cents"
        case currency
    }
}

extension KeyedEncodingContainer {
    /// An amount for clients that read major units: `money.majorUnits` at `key`, the integer minor units at `centsKey`.
    public mutating func encodeAmount(_ money: Money, forKey key: Key, centsKey: Key) throws {
        try encode(money.majorUnits, forKey: key)
        try encode(money.amountCents, forKey: centsKey)
    }
}
