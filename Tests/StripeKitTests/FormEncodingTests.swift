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
            encoded
                == "mode=subscription&line_items[0][price]=price_1&line_items[0][quantity]=1&metadata[tier]=professional"
                + "&metadata[user_id]=u%201&expand[0]=data.customer&expand[1]=data.items"
        )
    }

    @Test func reservedCharactersAreEscapedAndDecodeBack() {
        let value = "a&b=c+d/é?"
        let encoded = FormEncoding.encode([("success_url", .string(value))])
        #expect(!encoded.dropFirst("success_url=".count).contains("&"))
        #expect(FormEncoding.decode(encoded).first?.1 == value)
    }
}
