"""Reading and validating inputs: GPS trails, crime records (the table format and the MoJ crime-mapping CSV),
and the offence taxonomy they are normalised to."""
