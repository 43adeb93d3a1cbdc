"""Ideas, voting rounds, ballots (online and paper) and the tally."""
