import Foundation
import NIOCore
import NIOHTTP1
import PlanKit
import ServiceKit

/// Google Cloud Monitoring: a service account's signed JWT is exchanged for an access token at its token endpoint,
/// then the CPU utilization of the project's Compute Engine instances is read over the window, aligned per hour
/// (`projects.timeSeries.list`, paged by `pageToken`). Spend arrives separately, pushed by budget notifications.
struct GoogleCloudConnector: MonitorConnector {
    let clientEmail: String
    let projectID: String
    let tokenURL: String
    let signer: ProviderJWT

    static let scope = "https://www.googleapis.com/auth/monitoring.read"
    static let cpuMetric = "compute.googleapis.com/instance/cpu/utilization"

    /// The key file Google gives for a service account, as downloaded.
    struct KeyFile: Decodable {
        var clientEmail: String
        var privateKey: String
        var projectID: String?
        var tokenURI: String?

        enum CodingKeys: String, CodingKey {
            case clientEmail = "client_email"
            case privateKey = "private_key"
            case projectID = "project_id"
            case tokenURI = "token_uri"
        }
    }

    init(_ target: IntegrationTarget) throws(FieldProblems) {
        guard let file = try? JSONDecoder().decode(KeyFile.self, from: Data(target.credential("service_account").utf8)) else {
            throw FieldProblems("credentials.service_account", "must be the service account's JSON key file (client_email, private_key)")
        }
        guard let signer = ProviderJWT(pem: file.privateKey) else {
            throw FieldProblems("credentials.service_account", "private_key is not an RSA key in PEM")
        }
        let project = target.config["project_id"]?.string ?? file.projectID
        guard let project, project.range(of: "^[a-z][a-z0-9-]{4,61}[a-z0-9]$", options: .regularExpression) != nil else {
            throw FieldProblems("config.project_id", "is required (or project_id in the key file): a Google Cloud project id")
        }
        let tokenURL = target.config["token_url"]?.string ?? file.tokenURI ?? "https://oauth2.googleapis.com/token"
        guard IntegrationDraft.normalizedBaseURL(tokenURL) != nil else {
            throw FieldProblems("config.token_url", "must be an http or https URL")
        }
        clientEmail = file.clientEmail
        projectID = project
        self.tokenURL = tokenURL
        self.signer = signer
    }

    struct Assertion: SignedClaims {
        var iss: String
        var scope: String
        var aud: String
        var iat: Int
        var exp: Int
    }

    struct Token: Decodable {
        var accessToken: String
        enum CodingKeys: String, CodingKey { case accessToken = "access_token" }
    }

    /// An access token for this run; the token endpoint's refusal of our assertion is a refusal of our credentials.
    func accessToken(using client: ProviderClient) async throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        let assertion = try await signer.sign(Assertion(iss: clientEmail, scope: Self.scope, aud: tokenURL, iat: now, exp: now + 3_600))
        let form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=\(assertion)"
        let response = try await client.send(
            ProviderRequest(
                method: .POST,
                url: tokenURL,
                headers: ["Content-Type": "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: form),
                accepted: [400]
            )
        )
        // OAuth answers a bad grant with 400 `invalid_grant`.
        guard response.status == 200 else {
            throw ProviderFailure.authFailed(status: response.status, message: ProviderClient.errorMessage(in: response.body) ?? "invalid_grant")
        }
        return try response.decode(Token.self).accessToken
    }

    func check(using client: ProviderClient) async throws {
        let token = try await accessToken(using: client)
        let now = Date()
        _ = try await page(
            CollectionWindow(start: now.addingTimeInterval(-3_600), end: now),
            pageToken: nil,
            pageSize: 1,
            token: token,
            using: client
        )
    }

    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected {
        let token = try await accessToken(using: client)
        var series: [GoogleTimeSeries] = []
        var pageToken: String?
        for _ in 0..<100 {
            let page = try await page(window, pageToken: pageToken, pageSize: 500, token: token, using: client)
            series += page.timeSeries ?? []
            guard let next = page.nextPageToken, !next.isEmpty else { break }
            pageToken = next
        }
        return GoogleCloudMetrics.collected(series, window: window)
    }

    func page(_ window: CollectionWindow, pageToken: String?, pageSize: Int, token: String, using client: ProviderClient) async throws
        -> GoogleTimeSeriesPage
    {
        func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text }
        var query = [
            "filter=" + encoded("metric.type = \"\(Self.cpuMetric)\""),
            "interval.startTime=" + encoded(window.start.formatted(Date.ISO8601FormatStyle())),
            "interval.endTime=" + encoded(window.end.formatted(Date.ISO8601FormatStyle())),
            "aggregation.alignmentPeriod=3600s", "aggregation.perSeriesAligner=ALIGN_MEAN", "pageSize=\(pageSize)",
        ]
        if let pageToken { query.append("pageToken=" + encoded(pageToken)) }
        return try await client.json(
            ProviderRequest(
                url: client.url("/v3/projects/\(projectID)/timeSeries?" + query.joined(separator: "&")),
                headers: ["Authorization": "Bearer \(token)"]
            ),
            as: GoogleTimeSeriesPage.self
        )
    }
}

/// `projects.timeSeries.list`: `{timeSeries: [{metric, resource, points: [{interval, value}]}], nextPageToken}`.
struct GoogleTimeSeriesPage: Decodable {
    var timeSeries: [GoogleTimeSeries]?
    var nextPageToken: String?
}

struct GoogleTimeSeries: Decodable, Equatable, Sendable {
    struct Labels: Decodable, Equatable, Sendable { var labels: [String: String]? }

    struct Point: Decodable, Equatable, Sendable {
        struct Interval: Decodable, Equatable, Sendable {
            var startTime: Date?
            var endTime: Date
        }

        struct Value: Decodable, Equatable, Sendable { var doubleValue: Decimal? }

        var interval: Interval
        var value: Value
    }

    var metric: Labels
    var resource: Labels
    var points: [Point]
}

/// Google Cloud's numbers. No I/O: CPU utilization is Google's 0–1 share, shown as a percentage; per instance the
/// latest aligned hour and each hour as a sample; across instances the mean of their latest.
enum GoogleCloudMetrics {
    static func collected(_ series: [GoogleTimeSeries], window: CollectionWindow) -> Collected {
        var samples: [MetricSample] = []
        var rows: [(id: String, name: String?, cpu: Decimal)] = []
        for entry in series {
            let id = entry.resource.labels?["instance_id"] ?? entry.metric.labels?["instance_name"] ?? "unknown"
            let dimensions = ["instance_id": id]
            var latest: (Date, Decimal)?
            for point in entry.points {
                guard let share = point.value.doubleValue else { continue }
                let start = point.interval.startTime ?? point.interval.endTime.addingTimeInterval(-3_600)
                guard window.contains(start) || window.contains(point.interval.endTime) else { continue }
                let percent = (share * 100).rounded(places: 2)
                samples.append(
                    MetricSample(metric: "cpu_percent", dimensions: dimensions, bucketStart: start.hourStart, value: percent, kind: .gauge)
                )
                if latest.map({ point.interval.endTime > $0.0 }) ?? true { latest = (point.interval.endTime, percent) }
            }
            if let latest { rows.append((id, entry.metric.labels?["instance_name"], latest.1)) }
        }
        rows.sort { ($0.cpu, $1.id) > ($1.cpu, $0.id) }
        let mean = rows.isEmpty ? nil : (rows.map(\.cpu).reduce(0, +) / Decimal(rows.count)).rounded(places: 2)
        return Collected(
            samples: samples,
            summary: [
                "instances": .number(Decimal(rows.count)),
                "mean_cpu_percent": JSONValue(mean),
                "busiest": .array(
                    rows.prefix(20).map { row in
                        ["instance_id": .string(row.id), "name": row.name.map(JSONValue.string) ?? .null, "cpu_percent": .number(row.cpu)]
                    }
                ),
            ]
        )
    }
}
