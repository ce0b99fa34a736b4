// A timed machine (`MachineConfig.populate`) has its frames and descriptors resident at
// boot, so the first touch of a frame is not a host page fault inside a timed run; an
// ordinary machine maps lazily and costs only what it touches.

import CMMSupport
import Testing
@testable import MMPhysical

@Suite struct PopulateTests {
    @Test(arguments: [false, true])
    func storageIsResidentOnlyWhenPopulated(_ populate: Bool) throws {
        let frames = 2048   // 8 MiB of content: four huge host pages where THP is on
        let f = try #require(FrameStore(frames: frames, mode: .full, populate: populate))
        defer { f.release() }
        let d = try #require(PageDescriptors(count: frames, populate: populate))
        defer { d.release() }
        let framesResident = mm_resident_pages(f.base, f.bytes)
        let descResident = mm_resident_pages(d.raw, d.rawBytes)
        if populate {
            #expect(framesResident == frames, "populated frame store: \(framesResident) of \(frames) pages resident")
            #expect(descResident == (d.rawBytes + 4095) / 4096, "populated descriptors: \(descResident) pages resident")
        } else {
            #expect(framesResident == 0, "lazy frame store: \(framesResident) pages resident before any touch")
            #expect(descResident == 0, "lazy descriptors: \(descResident) pages resident before any touch")
        }
    }

    @Test func populatedMachineKeepsContentAcrossACopy() throws {
        let pm = PhysicalMemory(MachineConfig(nodes: 1, nodeMemBytes: 64 << 20, content: .full, populate: true))
        pm.frames.writeStamp(10, 0xABCD_0001)
        pm.frames.copy(from: 10, to: 4000)
        #expect(pm.frames.readStamp(4000) == 0xABCD_0001, "frame 4000 after the copy from frame 10")
    }
}
