#include "formats/zip_writer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "formats/byte_io.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

constexpr uint64_t k32Max = 0xffffffffu;
constexpr uint16_t kFlagDescriptor = 0x0008;  // sizes and crc follow the data
constexpr uint16_t kFlagUtf8 = 0x0800;
constexpr size_t kAlignment = 64;  // torch maps tensor data in place and wants it aligned

// miniz writes the 64-bit sizes only when the size needs them, and the offset only when it does.
std::vector<uint8_t> zip64_extra(uint64_t size, bool big_size, uint64_t offset, bool big_offset) {
    std::vector<uint8_t> x;
    if (!big_size && !big_offset) return x;
    put_le16(x, 0x0001);
    put_le16(x, static_cast<uint16_t>((big_size ? 16 : 0) + (big_offset ? 8 : 0)));
    if (big_size) {
        put_le64(x, size);  // uncompressed
        put_le64(x, size);  // compressed
    }
    if (big_offset) put_le64(x, offset);
    return x;
}

}  // namespace

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
    const auto* p = static_cast<const uint8_t*>(data);
    crc = ~crc;
    for (size_t i = 0; i < size; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

void ZipWriter::add(const std::string& name, const void* data, size_t size) {
    if (name.size() > 0xffff) throw Error("zip entry name is too long: " + name.substr(0, 64) + "...");
    const uint64_t offset = out_.size();
    const uint32_t crc = crc32(data, size);
    const bool big_size = size >= k32Max || force_zip64_;
    const bool big_offset = offset >= k32Max || force_zip64_;
    const std::vector<uint8_t> z64 = zip64_extra(size, big_size, offset, big_offset);
    // miniz only writes a data descriptor (and sets its flag) for non-empty entries.
    const uint16_t flags = static_cast<uint16_t>(kFlagUtf8 | (size > 0 ? kFlagDescriptor : 0));

    const uint64_t unpadded = offset + 30 + name.size() + z64.size() + 4;
    const size_t pad = static_cast<size_t>((kAlignment - unpadded % kAlignment) % kAlignment);

    put_le32(out_, 0x04034b50);
    put_le16(out_, 0);  // version needed: 0, as miniz writes for stored entries
    put_le16(out_, flags);
    put_le16(out_, 0);  // method: stored
    put_le16(out_, 0);  // time
    put_le16(out_, 0);  // date
    put_le32(out_, 0);  // crc and sizes live in the data descriptor
    put_le32(out_, 0);
    put_le32(out_, 0);
    put_le16(out_, static_cast<uint16_t>(name.size()));
    put_le16(out_, static_cast<uint16_t>(z64.size() + 4 + pad));
    put_string(out_, name);
    put_bytes(out_, z64.data(), z64.size());
    put_bytes(out_, "FB", 2);
    put_le16(out_, static_cast<uint16_t>(pad));
    out_.insert(out_.end(), pad, 'Z');
    put_bytes(out_, data, size);
    if (size > 0) {
        put_le32(out_, 0x08074b50);
        put_le32(out_, crc);
        if (z64.empty()) {
            put_le32(out_, static_cast<uint32_t>(size));
            put_le32(out_, static_cast<uint32_t>(size));
        } else {
            put_le64(out_, size);
            put_le64(out_, size);
        }
    }

    put_le32(central_, 0x02014b50);
    put_le16(central_, 0);  // version made by
    put_le16(central_, 0);  // version needed
    put_le16(central_, flags);
    put_le16(central_, 0);
    put_le16(central_, 0);
    put_le16(central_, 0);
    put_le32(central_, crc);
    put_le32(central_, big_size ? static_cast<uint32_t>(k32Max) : static_cast<uint32_t>(size));
    put_le32(central_, big_size ? static_cast<uint32_t>(k32Max) : static_cast<uint32_t>(size));
    put_le16(central_, static_cast<uint16_t>(name.size()));
    put_le16(central_, static_cast<uint16_t>(z64.size()));
    put_le16(central_, 0);  // comment
    put_le16(central_, 0);  // disk
    put_le16(central_, 0);  // internal attributes
    put_le32(central_, 0);  // external attributes
    put_le32(central_, big_offset ? static_cast<uint32_t>(k32Max) : static_cast<uint32_t>(offset));
    put_string(central_, name);
    put_bytes(central_, z64.data(), z64.size());
    ++count_;
}

std::vector<uint8_t> ZipWriter::finish() {
    const uint64_t cd_offset = out_.size();
    const uint64_t cd_size = central_.size();
    put_bytes(out_, central_.data(), central_.size());
    central_.clear();

    const uint64_t z64_offset = out_.size();
    put_le32(out_, 0x06064b50);
    put_le64(out_, 44);      // size of the rest of this record
    put_le16(out_, 0x031e);  // made by: unix, spec 3.0
    put_le16(out_, 0x002d);  // needed: 4.5 (zip64)
    put_le32(out_, 0);
    put_le32(out_, 0);
    put_le64(out_, count_);
    put_le64(out_, count_);
    put_le64(out_, cd_size);
    put_le64(out_, cd_offset);

    put_le32(out_, 0x07064b50);
    put_le32(out_, 0);
    put_le64(out_, z64_offset);
    put_le32(out_, 1);

    put_le32(out_, 0x06054b50);
    put_le16(out_, 0);
    put_le16(out_, 0);
    put_le16(out_, static_cast<uint16_t>(std::min<uint64_t>(count_, 0xffff)));
    put_le16(out_, static_cast<uint16_t>(std::min<uint64_t>(count_, 0xffff)));
    put_le32(out_, static_cast<uint32_t>(std::min<uint64_t>(cd_size, k32Max)));
    put_le32(out_, static_cast<uint32_t>(std::min<uint64_t>(cd_offset, k32Max)));
    put_le16(out_, 0);
    count_ = 0;
    return std::move(out_);
}

}  // namespace rwkv
