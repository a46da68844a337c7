import Foundation
import StripeKit
import Testing

@Suite struct WebhookSignatureTests {
    let secret = "whsec_test_secret"
    let payload = Data(#"{"id":"evt_1","type":"checkout.session.completed"}"#.utf8)
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func acceptsItsOwnSignature() throws {
        let header = StripeWebhookSignature.header(for: payload, secret: secret, timestamp: now)
        try StripeWebhookSignature.verify(payload: payload, header: header, secret: secret, now: now.addingTimeInterval(10))
    }

    /// The header of a known payload, secret and timestamp.
    @Test func matchesStripesHMACConstruction() {
        let header = StripeWebhookSignature.header(for: Data("hello".utf8), secret: "whsec_abc", timestamp: Date(timeIntervalSince1970: 1_700_000_000))
        // HMAC-SHA256("whsec_abc", "1700000000.hello"), computed independently with openssl.
        #expect(header == "t=1700000000,v1=\(Self.opensslHMAC)")
    }

    static let opensslHMAC = "143e3a972876cf7aeb5ed09be39f63a5a566902ec1d418b8d00865c9d9ea7f9b"

    @Test func anyMatchingV1IsEnough() throws {
        let good = StripeWebhookSignature.header(for: payload, secret: secret, timestamp: now)
        let v1 = good.split(separator: ",")[1]
        let header = "t=\(Int(now.timeIntervalSince1970)),v1=\(String(repeating: "0", count: 64)),v0=ignored,\(v1)"
        try StripeWebhookSignature.verify(payload: payload, header: header, secret: secret, now: now)
    }

    @Test func refusesOldSignatures() {
        let header = StripeWebhookSignature.header(for: payload, secret: secret, timestamp: now)
        #expect(throws: StripeWebhookSignature.Failure.timestampOutsideTolerance) {
            try StripeWebhookSignature.verify(payload: payload, header: header, secret: secret, now: now.addingTimeInterval(301))
        }
    }

    @Test func refusesATamperedBody() {
        let header = StripeWebhookSignature.header(for: payload, secret: secret, timestamp: now)
        var tampered = payload
        tampered[tampered.startIndex + 8] = UInt8(ascii: "X")
        #expect(throws: StripeWebhookSignature.Failure.signatureMismatch) {
            try StripeWebhookSignature.verify(payload: tampered, header: header, secret: secret, now: now)
        }
    }

    @Test func refusesAnotherSecretAndMalformedHeaders() {
        let header = StripeWebhookSignature.header(for: payload, secret: "whsec_other", timestamp: now)
        #expect(throws: StripeWebhookSignature.Failure.signatureMismatch) {
            try StripeWebhookSignature.verify(payload: payload, header: header, secret: secret, now: now)
        }
        #expect(throws: StripeWebhookSignature.Failure.malformedHeader) {
            try StripeWebhookSignature.verify(payload: payload, header: "garbage", secret: secret, now: now)
        }
        #expect(throws: StripeWebhookSignature.Failure.noSignature) {
            try StripeWebhookSignature.verify(payload: payload, header: "t=\(Int(now.timeIntervalSince1970))", secret: secret, now: now)
        }
    }
}
