"""Pledges of money, time, goods and space, community pledges and their signatures."""
