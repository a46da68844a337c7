/// The permissions a key can carry.
enum KeyPermission: String, CaseIterable, Codable, Sendable {
    case syncUsers = "sync:users"
    case syncRevenue = "sync:revenue"
    case syncCommissions = "sync:commissions"
    case webhookWrite = "webhook:write"
}
