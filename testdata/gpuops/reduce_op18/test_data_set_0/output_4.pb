B
sumsquare4JT«›AM÷±A‘¤µAÑQA%†BÕAÒnâAH‡A^¥BýüAÊ›¸Aø´¹Aò>)Aè|ªAh’NAøL¥AxçÄAÄ©A” Bk§AìÍ‹A