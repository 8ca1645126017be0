in
bye
