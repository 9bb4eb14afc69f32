#include "formats/zip.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "formats/byte_io.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;

struct Directory {
    uint64_t entries = 0;
    uint64_t offset = 0;
    uint64_t size = 0;
    uint64_t limit = 0;  // where the records after the central directory begin
};

[[noreturn]] void fail(const MappedFile& f, const std::string& what) { throw Error(f.path() + ": " + what); }

// The end record sits at the very end, after an optional comment of up to 64 KiB; search backwards for a
// signature whose comment length reaches exactly to the end of the file.
size_t find_end_record(const MappedFile& f) {
    const uint8_t* d = f.data();
    const size_t n = f.size();
    if (n < kEndSize) fail(f, "too short to be a zip archive (no end of central directory record)");
    const size_t lowest = n - kEndSize > 0xffff ? n - kEndSize - 0xffff : 0;
    for (size_t pos = n - kEndSize + 1; pos-- > lowest;) {
        if (load_le32(d + pos) == kEndSig && pos + kEndSize + load_le16(d + pos + 20) == n) return pos;
    }
    fail(f, "zip end of central directory record not found (file truncated or not a zip archive)");
}

Directory read_directory_location(const MappedFile& f) {
    const uint8_t* d = f.data();
    const size_t end = find_end_record(f);
    const uint8_t* e = d + end;
    if (load_le16(e + 4) != 0 || load_le16(e + 6) != 0) fail(f, "multi-disk zip archives are not supported");
    Directory dir;
    dir.entries = load_le16(e + 10);
    dir.size = load_le32(e + 12);
    dir.offset = load_le32(e + 16);
    dir.limit = end;

    const bool has_locator = end >= kZip64LocatorSize && load_le32(d + end - kZip64LocatorSize) == kZip64LocatorSig;
    if (has_locator) {
        const uint8_t* loc = d + end - kZip64LocatorSize;
        const uint64_t z64 = load_le64(loc + 8);
        const uint64_t z64_limit = end - kZip64LocatorSize;
        if (z64 > z64_limit || z64_limit - z64 < kZip64EndSize)
            fail(f, "zip64 end of central directory offset " + std::to_string(z64) + " lies outside the file");
        const uint8_t* r = d + z64;
        if (load_le32(r) != kZip64EndSig) fail(f, "zip64 end of central directory record has a bad signature");
        if (load_le32(r + 16) != 0 || load_le32(r + 20) != 0) fail(f, "multi-disk zip archives are not supported");
        dir.entries = load_le64(r + 32);
        dir.size = load_le64(r + 40);
        dir.offset = load_le64(r + 48);
        dir.limit = z64;
    } else if (dir.entries == 0xffff || dir.size == 0xffffffff || dir.offset == 0xffffffff) {
        fail(f, "zip end record asks for zip64 values but the zip64 locator is missing");
    }
    if (dir.offset > dir.limit || dir.size > dir.limit - dir.offset)
        fail(f, "zip central directory (offset " + std::to_string(dir.offset) + ", size " + std::to_string(dir.size) +
                    ") lies outside the file");
    if (dir.entries > dir.size / kCentralSize)
        fail(f, "zip central directory claims " + std::to_string(dir.entries) + " entries in " +
                    std::to_string(dir.size) + " bytes");
    return dir;
}

// Zip64 extended information: each 32-bit field that holds 0xffffffff continues here as 64 bits, in order.
void apply_zip64_extra(const MappedFile& f, const std::string& name, const uint8_t* extra, size_t len,
                       uint64_t* usize, uint64_t* csize, uint64_t* offset) {
    size_t pos = 0;
    while (pos + 4 <= len) {
        const uint16_t id = load_le16(extra + pos);
        const uint16_t flen = load_le16(extra + pos + 2);
        if (flen > len - pos - 4) fail(f, "zip entry '" + name + "' has an extra field running past its end");
        if (id == 0x0001) {
            const uint8_t* p = extra + pos + 4;
            size_t left = flen;
            for (uint64_t* v : {usize, csize, offset}) {
                if (*v != 0xffffffff) continue;
                if (left < 8) fail(f, "zip entry '" + name + "' has a truncated zip64 extra field");
                *v = load_le64(p);
                p += 8;
                left -= 8;
            }
            return;
        }
        pos += 4 + static_cast<size_t>(flen);
    }
}

}  // namespace

std::map<std::string, ZipEntry> read_zip_directory(const MappedFile& f) {
    const Directory dir = read_directory_location(f);
    const uint8_t* d = f.data();
    std::map<std::string, ZipEntry> entries;
    uint64_t pos = dir.offset;
    const uint64_t cd_end = dir.offset + dir.size;
    for (uint64_t i = 0; i < dir.entries; ++i) {
        const std::string where = "zip central directory entry " + std::to_string(i);
        if (cd_end - pos < kCentralSize) fail(f, where + " runs past the end of the directory");
        const uint8_t* c = d + pos;
        if (load_le32(c) != kCentralSig) fail(f, where + " has a bad signature");
        const uint16_t flags = load_le16(c + 8);
        const uint16_t method = load_le16(c + 10);
        uint64_t csize = load_le32(c + 20);
        uint64_t usize = load_le32(c + 24);
        const size_t name_len = load_le16(c + 28);
        const size_t extra_len = load_le16(c + 30);
        const size_t comment_len = load_le16(c + 32);
        uint64_t local = load_le32(c + 42);
        if (cd_end - pos - kCentralSize < name_len + extra_len + comment_len)
            fail(f, where + " runs past the end of the directory");
        std::string name(reinterpret_cast<const char*>(c + kCentralSize), name_len);
        apply_zip64_extra(f, name, c + kCentralSize + name_len, extra_len, &usize, &csize, &local);
        pos += kCentralSize + name_len + extra_len + comment_len;

        if (flags & 1) fail(f, "zip entry '" + name + "' is encrypted");
        if (method == 0 && csize != usize)
            fail(f, "zip entry '" + name + "' is stored but its sizes differ (" + std::to_string(csize) + " vs " +
                        std::to_string(usize) + ")");
        // Entries precede the central directory; their bytes must too.
        if (local > dir.offset || dir.offset - local < kLocalSize)
            fail(f, "zip entry '" + name + "' has local header offset " + std::to_string(local) +
                        " outside the archive");
        const uint8_t* l = d + local;
        if (load_le32(l) != kLocalSig) fail(f, "zip entry '" + name + "' has a bad local header signature");
        const size_t lname = load_le16(l + 26);
        const size_t lextra = load_le16(l + 28);
        const uint64_t data = local + kLocalSize + lname + lextra;
        if (data > dir.offset || csize > dir.offset - data)
            fail(f, "zip entry '" + name + "' (" + std::to_string(csize) + " bytes at offset " + std::to_string(data) +
                        ") runs past the end of the archive data");
        if (lname != name_len || std::memcmp(l + kLocalSize, name.data(), name_len) != 0)
            fail(f, "zip entry '" + name + "' has a different name in its local header");
        if (!entries.emplace(name, ZipEntry{data, csize, method}).second)
            fail(f, "zip archive holds entry '" + name + "' twice");
    }
    return entries;
}

const uint8_t* zip_entry_data(const MappedFile& f, const std::string& name, const ZipEntry& entry) {
    if (entry.method != 0)
        fail(f, "zip entry '" + name + "' is compressed (method " + std::to_string(entry.method) +
                    "); only stored entries are supported, as torch.save writes them");
    return f.data() + entry.offset;
}

}  // namespace rwkv
