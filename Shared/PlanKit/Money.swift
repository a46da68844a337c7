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

    /// For people to read: `USD 12,500.00`, `JPY 1,250`.
    public var formatted: String {
        let zeroDecimal = Self.zeroDecimalCurrencies.contains(currency)
        let major = zeroDecimal ? amountCents.magnitude : amountCents.magnitude / 100
        var digits = String(major)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        let fraction = zeroDecimal ? "" : "." + String(format: "%02d", Int(amountCents.magnitude % 100))
        return "\(currency.uppercased()) \(amountCents < 0 ? "-" : "")\(digits)\(grouped)\(fraction)"
    }

    enum CodingKeys: String, CodingKey {
        case amountCents = "amount_cents"
        case currency
    }
}
