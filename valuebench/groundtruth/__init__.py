"""Ground-truth pipelines: measure how steering, training or judging by value i moves value j."""
