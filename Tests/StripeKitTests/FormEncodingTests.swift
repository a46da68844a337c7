import Foundation
import StripeKit
import Testing

@Suite struct FormEncodingTests {
    @Test func nestedMapsAndListsBecomeBracketedKeys() {
        let encoded = FormEncoding.encode([
            ("mode", "subscription"),
            ("line_items", [["price": "price_1", "quantity": 1]]),
            ("metadata", .metadata(["user_id": "u 1", "tier": "professional"])),
            ("expand", ["data.customer", "data.items"]),
        ])
        #expect(
            FormEncoding.decode(encoded).map { "\($0.0)=\($0.1)" } == [
                "mode=subscription", "line_items[0][price]=price_1", "line_items[0][quantity]=1", "metadata[tier]=professional",
                "metadata[user_id]=u 1", "expand[0]=data.customer", "expand[1]=data.items",
            ]
        )
    }

    /// A URL with a raw bracket is invalid, and parsing one escapes its query again (`*` arriving as `%2A`, not `*`).
    @Test func aQueryWithBracketsAndEscapesReachesTheServerAsSent() throws {
        let encoded = FormEncoding.encode([("type", "customer.subscription.*"), ("created", ["gte": 1_700_000_000])])
        let url = try #require(URL(string: "https://api.stripe.com/v1/events?" + encoded))
        #expect(FormEncoding.decode(try #require(url.query(percentEncoded: true))).map(\.1) == ["customer.subscription.*", "1700000000"])
        #expect(FormEncoding.decode(encoded).map(\.0) == ["type", "created[gte]"])
    }

    @Test func reservedCharactersAreEscapedAndDecodeBack() {
        let value = "a&b=c+d/é?"
        let encoded = FormEncoding.encode([("success_url", .string(value))])
        #expect(!encoded.dropFirst("success_url=".count).contains("&"))
        #expect(FormEncoding.decode(encoded).first?.1 == value)
    }
}
