#pragma once
// GPT-2's reversible map from bytes to printable code points: byte-level BPE vocabularies spell
// every token as a string of these characters (a space is "Ġ", a newline "Ċ").
#include <cstdint>

namespace rwkv::tok {

// The character that stands for `byte`.
uint32_t gpt2_byte_to_char(unsigned char byte);
// The byte a character stands for, or -1 when it stands for none.
int gpt2_char_to_byte(uint32_t cp);

}  // namespace rwkv::tok
