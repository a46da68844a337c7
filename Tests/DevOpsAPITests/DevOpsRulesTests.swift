import Foundation
import PlanKit
import ServiceKit
import Testing

@testable import BillingWebhooks
@testable import DevOpsAPI

@Suite struct DevOpsEventTests {
    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    var stamp: String { ISO8601DateFormatter().string(from: now) }

    @Test func deploymentsAndAlertsAreRead() throws {
        let deployment = try DevOpsEvent(
            Self.json(
                #"{"event_type":"deployment","data":{"environment":"production","version":"1.4.2","status":"success","deployTime":"42s","timestamp":"\#(stamp)"}}"#
            ),
            now: now,
            requireFreshTimestamp: true
        )
        #expect(deployment.environment == "production" && deployment.version == "1.4.2")
        let alert = try DevOpsEvent(
            Self.json(#"{"event_type":"alert","severity":"high","message":"disk full","timestamp":"\#(stamp)"}"#),
            now: now,
            requireFreshTimestamp: false
        )
        #expect(alert.severity == "high" && alert.level == .high)
    }

    @Test func bothSeverityVocabulariesLandOnOneOrderedScale() throws {
        func level(_ word: String) throws -> AlertSeverity? {
            try DevOpsEvent(
                Self.json(#"{"event_type":"alert","severity":"\#(word)","message":"m","timestamp":"\#(stamp)"}"#),
                now: now,
                requireFreshTimestamp: false
            ).level
        }
        #expect(
            try ["info", "low", "warning", "medium", "error", "high", "critical", "Warning"].map(level) == [
                .info, .low, .medium, .medium, .high, .high, .critical, .medium,
            ]
        )
        #expect(AlertSeverity.info < .low && AlertSeverity.medium < .high && AlertSeverity.high < .critical)
    }

    @Test func aDeploymentWithoutEnvironmentWentToProductionAndExtraFieldsAreNoProblem() throws {
        let deployment = try DevOpsEvent(
            Self.json(#"{"event_type":"deployment","status":"success","version":"1.2.3","deployTime":45,"region":"eu","timestamp":"\#(stamp)"}"#),
            now: now,
            requireFreshTimestamp: true
        )
        #expect(deployment.environment == "production" && deployment.status == "success")
    }

    @Test func badEventsAreRefused() throws {
        #expect(throws: APIError.badRequest("unknown_event_type", "event_type must be deployment or alert")) {
            try DevOpsEvent(Self.json(#"{"event_type":"reboot","timestamp":"\#(stamp)"}"#), now: now, requireFreshTimestamp: false)
        }
        let error = #expect(throws: APIError.self) {
            try DevOpsEvent(
                Self.json(#"{"event_type":"alert","severity":"apocalyptic","timestamp":"yesterday"}"#),
                now: now,
                requireFreshTimestamp: false
            )
        }
        #expect(error?.fields?.map(\.field) == ["timestamp", "severity", "message"])
        let old = ISO8601DateFormatter().string(from: now.addingTimeInterval(-301))
        #expect(throws: APIError.self) {
            try DevOpsEvent(
                Self.json(#"{"event_type":"alert","severity":"low","message":"m","timestamp":"\#(old)"}"#),
                now: now,
                requireFreshTimestamp: true
            )
        }
    }
}

@Suite struct GatewayMetricsTests {
    static let exposition = """
        # TYPE http_requests_total counter
        http_requests_total{route="/api/devops/sync/users",method="GET",status="200",upstream="devops-api"} 90
        http_requests_total{route="/api/devops/sync/users",method="GET",status="503",upstream="devops-api"} 10
        http_requests_total{route="/health",method="GET",status="200",upstream="gateway"} 5
        http_request_duration_seconds_bucket{route="/api/devops/sync/users",method="GET",status="200",upstream="devops-api",le="0.005"} 40
        http_request_duration_seconds_bucket{route="/api/devops/sync/users",method="GET",status="200",upstream="devops-api",le="0.01"} 80
        http_request_duration_seconds_bucket{route="/api/devops/sync/users",method="GET",status="200",upstream="devops-api",le="0.05"} 96
        http_request_duration_seconds_bucket{route="/api/devops/sync/users",method="GET",status="200",upstream="devops-api",le="+Inf"} 100
        """

    @Test func trafficPerServiceWithErrorsAndQuantiles() {
        let traffic = GatewayMetrics.traffic(GatewayMetrics.parse(Self.exposition), previous: ["devops-api": 40], elapsed: 30)
        #expect(traffic.count == 1)
        let devops = traffic[0]
        #expect(devops.requests == 100)
        #expect(devops.errorRate == 0.1)
        #expect(devops.requestRate == 2)
        #expect(devops.p50Milliseconds == 10)
        #expect(devops.p95Milliseconds == 50)
    }
}

@Suite struct CommissionRateTests {
    @Test func levelsEarnTheirShareRoundedToTheCent() {
        let rates = CommissionRates()
        #expect(rates.commission(on: .usd(2_900), level: .member) == .usd(580))
        #expect(rates.commission(on: .usd(2_900), level: .reseller) == .usd(870))
        #expect(rates.commission(on: .usd(2_900), level: .proReseller) == .usd(1_160))
        #expect(rates.commission(on: .usd(1_001), level: .reseller) == .usd(300))
        #expect(rates.commission(on: .usd(1_005), level: .member) == .usd(201))
    }
}
