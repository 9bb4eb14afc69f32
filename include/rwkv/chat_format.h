#pragma once
// The chat format RWKV World and G1 models are trained on: turns "Role: text" separated by a blank line, the
// reply read after "Assistant:" and ended by the next blank line. G1 models can reason first, between <think>
// and </think>, when the reply is opened with "<think"; opening it with an empty think block turns that off.
#include <string>
#include <string_view>
#include <vector>

namespace rwkv {

struct ChatMessage {
    std::string role;  // system (or developer), user, assistant, tool
    std::string content;
};

enum class ThinkMode {
    Plain,    // "Assistant:" (World models; G1 answers directly or thinks as it likes)
    Think,    // "Assistant: <think": a G1 model reasons first
    NoThink,  // "Assistant: <think>\n</think": an empty think block, so a G1 model answers at once
};

// A message as one paragraph (ChatRWKV's cleanup): "\r" dropped, runs of newlines made one, ends trimmed,
// since a blank line ends a turn.
std::string chat_clean(std::string_view text);

// One turn, "Role: text" and the blank line after it; rwkv::Error for an unknown role.
std::string chat_turn(const ChatMessage& message);
// What the prompt ends with: "Assistant:" and the think mode's opening.
std::string chat_opening(ThinkMode mode);
// The prompt for `messages`: their turns, then the opening.
std::string chat_prompt(const std::vector<ChatMessage>& messages, ThinkMode mode);

// Where a reply ends: a blank line, or the model starting the user's next turn.
std::vector<std::string> chat_stops();

// Splits a reply as it streams into reasoning (inside <think> … </think>) and the answer, and tidies both: the
// space after "Assistant:" and the newlines around the think block are dropped.
class ReplySplitter {
public:
    explicit ReplySplitter(ThinkMode mode);
    struct Parts {
        std::string reasoning, content;
    };
    // The reasoning and answer text this piece completes (text that may be the start of a tag is held back).
    Parts push(std::string_view piece);
    // The rest, at the end of the reply.
    Parts flush();

private:
    Parts take(bool final);

    enum class Phase { Opening, Reasoning, Answer } phase_;
    std::string pending_;
    bool closing_bracket_ = false;  // the reply's first character closes the prompt's "<think" or "</think"
    bool answer_started_ = false, reasoning_started_ = false;
};

}  // namespace rwkv
