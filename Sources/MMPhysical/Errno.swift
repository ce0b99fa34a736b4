// Linux errno values, as system calls return them and move_pages writes them into its
// status array (negated).

/// A Linux error number (include/uapi/asm-generic/errno-base.h).
public enum Errno: Int32, Error, Sendable, CaseIterable, CustomStringConvertible {
    case EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EAGAIN = 11, ENOMEM = 12
    case EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22
    /// The symbolic name ("EBUSY"), as the JSON output spells it.
    public var name: String { "\(self)" }
    public var description: String {
        switch self {
        case .EPERM: return "EPERM"
        case .ENOENT: return "ENOENT"
        case .ESRCH: return "ESRCH"
        case .EINTR: return "EINTR"
        case .EIO: return "EIO"
        case .EAGAIN: return "EAGAIN"
        case .ENOMEM: return "ENOMEM"
        case .EACCES: return "EACCES"
        case .EFAULT: return "EFAULT"
        case .EBUSY: return "EBUSY"
        case .EEXIST: return "EEXIST"
        case .ENODEV: return "ENODEV"
        case .EINVAL: return "EINVAL"
        }
    }
}
