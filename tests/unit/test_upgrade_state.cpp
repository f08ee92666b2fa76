#include <gtest/gtest.h>

#include <string>

#include "upgrade_state.hpp"

namespace pywebd {
namespace {

TEST(UpgradeState, RoundTripsThroughTheEnvironmentText) {
    UpgradeState state;
    state.master = 99;
    state.socket_activated = true;
    state.metrics_fd = 5;
    state.next_generation = 7;
    state.sockets = {{3, true, false}, {4, false, true}, {6, false, false}};
    state.workers = {{1234, 6, 0, 0, 9, true, false}, {1240, 5, 1, 3, 10, true, true}, {1250, 6, 1, 4, 11}};
    std::string error;
    const auto back = UpgradeState::decode(state.encode(), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->master, 99);
    EXPECT_TRUE(back->socket_activated);
    EXPECT_EQ(back->metrics_fd, 5);
    EXPECT_EQ(back->next_generation, 7u);
    ASSERT_EQ(back->sockets.size(), 3u);
    EXPECT_TRUE(back->sockets[0].inherited);
    EXPECT_TRUE(back->sockets[1].admin);
    EXPECT_FALSE(back->sockets[2].inherited || back->sockets[2].admin);
    ASSERT_EQ(back->workers.size(), 3u);
    EXPECT_TRUE(back->workers[0].ready && !back->workers[0].quitting);
    EXPECT_TRUE(back->workers[1].ready && back->workers[1].quitting);
    EXPECT_TRUE(!back->workers[2].ready && !back->workers[2].quitting);
    EXPECT_EQ(back->workers[1].pid, 1240);
    EXPECT_EQ(back->workers[1].generation, 5u);
    EXPECT_EQ(back->workers[1].slot, 1u);
    EXPECT_EQ(back->workers[1].metrics_slot, 3u);
    EXPECT_EQ(back->workers[1].channel, 10);
    EXPECT_EQ(back->fds(), (std::vector<int>{5, 3, 4, 6, 9, 10, 11}));
}

TEST(UpgradeState, AnythingMalformedIsRefusedWithWhatWasWrong) {
    const std::string good = "format=1 master=7 activated=0 generation=2 metrics=5 socket=6,plain";
    std::string error;
    ASSERT_TRUE(UpgradeState::decode(good, error)) << error;
    const struct {
        std::string text;
        const char* names;
    } table[] = {
        {"format=2 master=7 activated=0 generation=2 metrics=5 socket=6,plain", "'format=2'"},  // a newer format
        {"master=7 activated=0 generation=2 metrics=5 socket=6,plain", "incomplete"},
        {"format=1 activated=0 generation=2 metrics=5 socket=6,plain", "incomplete"},  // whose?
        {good + " socket=2,plain", "standard input or output"},
        {good + " socket=6,inherited", "named twice"},
        {good + " worker=12,1,0,0,5,ready", "named twice"},  // the metrics descriptor as a channel
        {good + " worker=12,1,0,0,9,asleep", "'worker=12,1,0,0,9,asleep'"},
        {good + " master=0", "'master=0'"},
        {"format=1 generation=2 socket=6,plain", "incomplete"},
        {"format=1 metrics=5", "incomplete"},
        {good + " socket=-1,plain", "'socket=-1,plain'"},
        {good + " socket=7,tls", "'socket=7,tls'"},
        {good + " socket=7", "'socket=7'"},
        {good + " worker=12,1,0,0,9", "'worker=12,1,0,0,9'"},
        {good + " worker=0,1,0,0,9,ready", "'worker=0,1,0,0,9,ready'"},
        {good + " worker=x,1,0,0,9,ready", "'worker=x,1,0,0,9,ready'"},
        {good + " generation=0", "'generation=0'"},
        {good + " activated=yes", "'activated=yes'"},
        {good + " colour=blue", "'colour=blue'"},
        {good + " junk", "'junk'"},
        {good + "  metrics=5", "''"},  // an empty item
        {"", "''"},
    };
    for (const auto& row : table) {
        SCOPED_TRACE(row.text);
        error.clear();
        EXPECT_FALSE(UpgradeState::decode(row.text, error));
        EXPECT_NE(error.find("PYWEBD_UPGRADE"), std::string::npos) << error;
        EXPECT_NE(error.find(row.names), std::string::npos) << error;
    }
}

}  // namespace
}  // namespace pywebd
