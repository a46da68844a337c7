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

    enum CodingKeys: String, CodingKey {
        case amountCents = "amount_cents"
        case currency
    }
}
