import Crypto
import Foundation
import ServiceKit

/// One event of `POST /api/analytics/events`, as a client sends it (PostHog's field names).
struct IncomingEvent: Decodable, Sendable {
    var event: String?
    var distinctID: String?
    var timestamp: String?
    var properties: JSONValue?
    var uuid: String?

    enum CodingKeys: String, CodingKey {
        case event, timestamp, properties, uuid
        case distinctID = "distinct_id"
    }
}

/// `{"batch": [...]}`, PostHog's batch shape.
struct IncomingBatch: Decodable, Sendable {
    var batch: [JSONValue]
}

/// An event that passed every check, scrubbed and ready to store.
struct AcceptedEvent: Sendable, Equatable {
    var uuid: UUID
    var person: String
    var name: String
    var time: Date
    /// The scrubbed properties, as JSON text.
    var properties: String
    /// For `$identify`: the anonymous visitor's ids as stored (one per kept salt in privacy mode) to merge into
    /// `person`.
    var mergedAnonymousIDs: [String] = []
}

/// Why one event of a batch was refused.
struct EventProblem: Codable, Sendable, Equatable {
    var index: Int
    var code: String
    var message: String
}

/// Checks and scrubs a batch. No I/O: the caller gives the clock, who is asking, and how anonymous ids are hashed.
///
/// In `gdpr_compliant` mode no IP address is stored (it is never read), the user agent is cut to its browser family,
/// property values that look like an email address or a payment card number are dropped (and keys that name an IP or
/// an email), and an anonymous visitor's `distinct_id` is stored only as an HMAC under the day's salt, so a visitor
/// cannot be followed across days.
enum EventIntake {
    static let maxBatch = 500
    static let known: Set<String> = ["page_view", "feature_used", "conversion", "session_start", "session_end", "support_ticket", "$identify"]
    static let maxPropertiesBytes = 8 * 1024
    static let future: TimeInterval = 24 * 3_600
    static let past: TimeInterval = 30 * 86_400

    struct Context {
        /// The signed-in user, whose id every event of theirs carries; nil for an anonymous visitor.
        var userID: String?
        var admin: Bool
        var backfill: Bool
        var now: Date
        var privacy: Bool
        /// The anonymous id as stored on a day (an HMAC under that day's salt in privacy mode).
        var anonymous: @Sendable (String, Date) -> String
        /// Every form the anonymous id may be stored under: one per kept salt in privacy mode.
        var anonymousOnAnyDay: @Sendable (String) -> [String]
    }

    static func check(_ events: [JSONValue], _ context: Context) -> (accepted: [AcceptedEvent], problems: [EventProblem]) {
        var accepted: [AcceptedEvent] = []
        var problems: [EventProblem] = []
        var seen = Set<UUID>()
        for (index, raw) in events.enumerated() {
            do {
                let event = try check(raw, context)
                // The same uuid twice in one batch is one event.
                if seen.insert(event.uuid).inserted { accepted.append(event) }
            } catch let problem as Problem {
                problems.append(EventProblem(index: index, code: problem.code, message: problem.message))
            } catch {
                problems.append(EventProblem(index: index, code: "invalid_event", message: "the event is not valid"))
            }
        }
        return (accepted, problems)
    }

    struct Problem: Error {
        var code: String
        var message: String
    }

    static func check(_ raw: JSONValue, _ context: Context) throws -> AcceptedEvent {
        guard case .object = raw else { throw Problem(code: "invalid_event", message: "each event must be an object") }
        let event: IncomingEvent
        do { event = try JSONDecoder().decode(IncomingEvent.self, from: JSONEncoder().encode(raw)) } catch {
            throw Problem(code: "invalid_event", message: "event, distinct_id, timestamp and uuid must be strings and properties an object")
        }
        guard let name = event.event, known.contains(name) || name.wholeMatch(of: /[a-z0-9_.:-]{1,64}/) != nil else {
            throw Problem(code: "invalid_event_name", message: "event must be a known event or match [a-z0-9_.:-]{1,64}")
        }
        let time: Date
        if let text = event.timestamp {
            guard let parsed = Self.date(text) else { throw Problem(code: "invalid_timestamp", message: "timestamp must be ISO 8601") }
            time = parsed
        } else {
            time = context.now
        }
        if time.timeIntervalSince(context.now) > future {
            throw Problem(code: "timestamp_in_future", message: "timestamp is more than 24 hours ahead")
        }
        if context.now.timeIntervalSince(time) > past && !(context.backfill && context.admin) {
            throw Problem(code: "timestamp_too_old", message: "timestamp is more than 30 days old (admins may send backfill=true)")
        }
        let uuid: UUID
        if let text = event.uuid {
            guard let parsed = UUID(uuidString: text) else { throw Problem(code: "invalid_uuid", message: "uuid must be a UUID") }
            uuid = parsed
        } else {
            uuid = UUID()
        }
        var properties: [String: JSONValue] = [:]
        switch event.properties {
        case nil, .null?: break
        case .object(let fields)?: properties = fields
        default: throw Problem(code: "invalid_properties", message: "properties must be an object")
        }
        let person: String
        if context.admin && context.backfill, let imported = event.distinctID, (1...200).contains(imported.count) {
            // An admin importing history names each event's person.
            person = imported
        } else if let user = context.userID {
            person = user
        } else {
            guard let anonymous = event.distinctID, (1...200).contains(anonymous.count) else {
                throw Problem(code: "missing_distinct_id", message: "an anonymous event needs a distinct_id of 1 to 200 characters")
            }
            person = context.privacy ? context.anonymous(anonymous, time) : "anon:" + anonymous
        }
        var merged: [String] = []
        if name == "$identify" {
            guard context.userID != nil, case .string(let anonymous)? = properties["anon_id"], !anonymous.isEmpty else {
                throw Problem(code: "invalid_identify", message: "$identify needs a signed-in user and properties.anon_id")
            }
            merged = context.privacy ? context.anonymousOnAnyDay(anonymous) : ["anon:" + anonymous]
            properties["anon_id"] = nil
        }
        if context.privacy { properties = scrub(properties) }
        let json = String(decoding: (try? JSONEncoder().encode(properties)) ?? Data("{}".utf8), as: UTF8.self)
        guard json.utf8.count <= maxPropertiesBytes else {
            throw Problem(code: "properties_too_large", message: "properties must be at most \(maxPropertiesBytes) bytes of JSON")
        }
        switch name {
        case "page_view" where properties["page"]?.string == nil:
            throw Problem(code: "missing_property", message: "page_view needs properties.page")
        case "feature_used" where properties["feature"]?.string == nil:
            throw Problem(code: "missing_property", message: "feature_used needs properties.feature")
        case "conversion" where properties["step"]?.string == nil:
            throw Problem(code: "missing_property", message: "conversion needs properties.step")
        default: break
        }
        return AcceptedEvent(uuid: uuid, person: person, name: name, time: time, properties: json, mergedAnonymousIDs: merged)
    }

    static func date(_ text: String) -> Date? { Date(iso8601: text) }

    /// Keys that name personal data, whatever their value.
    static let personalKeys: Set<String> = ["ip", "$ip", "email", "$email", "user_agent", "$user_agent", "phone"]

    /// Properties without personal data: the keys above, and any string that looks like an email address or a card
    /// number, at any depth.
    static func scrub(_ properties: [String: JSONValue]) -> [String: JSONValue] {
        func clean(_ value: JSONValue) -> JSONValue? {
            switch value {
            case .string(let text): return looksPersonal(text) ? nil : value
            case .array(let items): return .array(items.compactMap(clean))
            case .object(let fields): return .object(scrub(fields))
            default: return value
            }
        }
        var scrubbed: [String: JSONValue] = [:]
        for (key, value) in properties where !personalKeys.contains(key.lowercased()) {
            if let kept = clean(value) { scrubbed[key] = kept }
        }
        return scrubbed
    }

    static func looksPersonal(_ text: String) -> Bool {
        if text.contains(/[^\s@]+@[^\s@]+\.[^\s@]+/) { return true }
        let digits = text.filter(\.isNumber)
        let separatorsOnly = text.allSatisfy { $0.isNumber || $0 == " " || $0 == "-" }
        return separatorsOnly && (13...19).contains(digits.count) && luhn(digits)
    }

    static func luhn(_ digits: String) -> Bool {
        var sum = 0
        for (position, character) in digits.reversed().enumerated() {
            guard var digit = character.wholeNumberValue else { return false }
            if position % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }

    /// `Chrome`, `Firefox`, `Safari`, `Edge`, `Opera` or `Other`: the family only, never the version or platform.
    static func browserFamily(_ userAgent: String?) -> String? {
        guard let agent = userAgent, !agent.isEmpty else { return nil }
        if agent.contains("Edg/") { return "Edge" }
        if agent.contains("OPR/") || agent.contains("Opera") { return "Opera" }
        if agent.contains("Firefox/") { return "Firefox" }
        if agent.contains("Chrome/") || agent.contains("CriOS/") { return "Chrome" }
        if agent.contains("Safari/") { return "Safari" }
        return "Other"
    }

    /// The anonymous id as stored in privacy mode: hex HMAC-SHA256 under the salt of the event's day.
    static func hashed(_ anonymous: String, salt: SymmetricKey) -> String {
        "anon:" + Data(HMAC<SHA256>.authenticationCode(for: Data(anonymous.utf8), using: salt)).hexString
    }
}
