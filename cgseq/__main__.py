from cgseq.main import entry

entry()
